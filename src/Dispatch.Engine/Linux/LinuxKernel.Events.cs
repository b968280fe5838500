using System.Buffers.Binary;

namespace Dispatch.Linux;

/// <summary>
/// Host kernel objects a process uses to wait on itself: eventfd, AF_UNIX socket pairs (send and receive without an
/// address), and epoll over the process's host descriptors. Each is a host descriptor in the file table, so read, write,
/// poll, select and close work on it as on a pipe; epoll's user data passes through the host unchanged.
/// </summary>
public sealed unsafe partial class LinuxKernel
{
    private const int HostCloseOnExec = 0x8_0000; // O_CLOEXEC, EFD_CLOEXEC, SOCK_CLOEXEC and EPOLL_CLOEXEC alike
    private const int AfUnix = 1, EpollCtlDel = 2, EpollEventSize = 12, MaxEpollEvents = 4096;
    private const int EAFNOSUPPORT = 97, ENOTSOCK = 88;

    private long AddHost(int hostFd, string name, int flags)
    {
        var file = OpenFile.ForHost(hostFd, name);
        file.CloseOnExec = (flags & HostCloseOnExec) != 0;
        return Files.Add(file); // closes the descriptor itself when the table is full
    }

    private long EventFd(uint initial, int flags)
    {
        int fd = HostLibc.eventfd(initial, flags | HostCloseOnExec);
        return fd < 0 ? HostLibc.Error() : AddHost(fd, "eventfd", flags);
    }

    private long SocketPair(int domain, int type, int protocol, ulong pairPointer)
    {
        if (domain != AfUnix) return -EAFNOSUPPORT; // no networking: only a pair within the process
        int* sv = stackalloc int[2];
        if (HostLibc.socketpair(domain, type | HostCloseOnExec, protocol, sv) < 0) return HostLibc.Error();
        long a = AddHost(sv[0], "socket", type), b = AddHost(sv[1], "socket", type);
        Span<byte> pair = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(pair, (int)a);
        BinaryPrimitives.WriteInt32LittleEndian(pair[4..], (int)b);
        if (a < 0 || b < 0 || !_memory.TryWrite(pairPointer, pair))
        {
            if (a >= 0) Files.Close(a);
            if (b >= 0) Files.Close(b);
            return a < 0 ? a : b < 0 ? b : -Errno.EFAULT;
        }
        return 0;
    }

    /// <summary>sendto and recvfrom on a connected socket (no address: the pairs are the only sockets).</summary>
    private long SendTo(long fd, ulong buffer, ulong length, int flags, ulong address)
    {
        if (File(fd) is not { IsHost: true } f) return File(fd) is null ? -Errno.EBADF : -ENOTSOCK;
        if (address != 0) return -Errno.EINVAL;
        var data = new byte[(int)Math.Min(length, MaxIo)];
        if (!_memory.TryRead(buffer, data)) return -Errno.EFAULT;
        fixed (byte* p = data) return HostLibc.Result(HostLibc.sendto(f.HostFd, p, data.Length, flags, null, 0));
    }

    private long ReceiveFrom(long fd, ulong buffer, ulong length, int flags, ulong address)
    {
        if (File(fd) is not { IsHost: true } f) return File(fd) is null ? -Errno.EBADF : -ENOTSOCK;
        if (address != 0) return -Errno.EINVAL;
        var data = new byte[(int)Math.Min(length, MaxIo)];
        long n = MayBlock(() => ReceiveHost(f.HostFd, data, flags));
        if (n > 0 && !_memory.TryWrite(buffer, data.AsSpan(0, (int)n))) return -Errno.EFAULT;
        return n;
    }

    private static long ReceiveHost(int fd, byte[] data, int flags)
    {
        fixed (byte* p = data) return HostLibc.Result(HostLibc.recvfrom(fd, p, data.Length, flags, null, null));
    }

    private long Shutdown(long fd, int how) =>
        File(fd) is { IsHost: true } f ? HostLibc.Result(HostLibc.shutdown(f.HostFd, how)) : File(fd) is null ? -Errno.EBADF : -ENOTSOCK;

    private long EpollCreate(int flags)
    {
        int fd = HostLibc.epoll_create1(HostCloseOnExec);
        return fd < 0 ? HostLibc.Error() : AddHost(fd, "epoll", flags);
    }

    /// <summary>epoll_ctl: struct epoll_event is packed on x86-64 (events, then 8 bytes of user data): 12 bytes.</summary>
    private long EpollControl(long epfd, int operation, long fd, ulong eventPointer)
    {
        if (File(epfd) is not { IsHost: true } epoll || File(fd) is not { } target) return -Errno.EBADF;
        // A stream that is not a host descriptor cannot be watched (as Linux refuses regular files).
        if (!target.IsHost) return -Errno.EPERM;
        var ev = new byte[EpollEventSize];
        if (operation != EpollCtlDel && !_memory.TryRead(eventPointer, ev)) return -Errno.EFAULT;
        fixed (byte* p = ev) return HostLibc.Result(HostLibc.epoll_ctl(epoll.HostFd, operation, target.HostFd, p));
    }

    private long EpollWait(long epfd, ulong events, int maxEvents, int timeoutMs)
    {
        if (File(epfd) is not { IsHost: true } epoll) return -Errno.EBADF;
        if (maxEvents is <= 0 or > MaxEpollEvents) return -Errno.EINVAL;
        var buffer = new byte[maxEvents * EpollEventSize];
        long n = MayBlock(() => EpollWaitHost(epoll.HostFd, buffer, maxEvents, timeoutMs));
        if (n > 0 && !_memory.TryWrite(events, buffer.AsSpan(0, (int)n * EpollEventSize))) return -Errno.EFAULT;
        return n;
    }

    private static long EpollWaitHost(int epfd, byte[] buffer, int maxEvents, int timeoutMs)
    {
        fixed (byte* p = buffer) return HostLibc.Result(HostLibc.epoll_wait(epfd, p, maxEvents, timeoutMs));
    }

    /// <summary>epoll_pwait: epoll_wait with a signal mask for the wait.</summary>
    private long EpollPWait(long epfd, ulong events, int maxEvents, int timeoutMs, ulong mask, ulong maskSize)
    {
        if (mask == 0) return EpollWait(epfd, events, maxEvents, timeoutMs);
        return maskSize != 8 ? -Errno.EINVAL : WithTemporaryMask(mask, () => EpollWait(epfd, events, maxEvents, timeoutMs));
    }
}
