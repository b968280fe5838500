using System.Buffers.Binary;
using System.Text;

namespace Dispatch.Linux;

/// <summary>File system calls. Paths and descriptors go to the host's C library; standard streams handed in as .NET streams are served here.</summary>
public sealed unsafe partial class LinuxKernel
{
    private const int AtFdCwd = -100, AtSymlinkNofollow = 0x100, AtRemoveDir = 0x200, AtEmptyPath = 0x1000;
    private const int MaxIo = 1 << 24;

    private OpenFile? File(long fd) => Files.Get(fd);

    /// <summary>The host directory descriptor for a guest dirfd argument, or null (EBADF).</summary>
    private int? HostDir(int dirfd)
    {
        if (dirfd == AtFdCwd) return _workingDirectoryFd;
        var f = File(dirfd);
        return f is { IsHost: true } ? f.HostFd : null;
    }

    private byte[]? Path(ulong pointer) => _memory.TryReadCString(pointer, 4096);

    private static bool IsProcSelfExe(byte[] path) => path.AsSpan().SequenceEqual("/proc/self/exe"u8);

    private long Read(int fd, ulong buffer, ulong count)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        var data = new byte[(int)Math.Min(count, MaxIo)];
        long n;
        if (f.IsHost) n = MayBlock(() => ReadHost(f.HostFd, data));
        else
        {
            if (!f.Stream!.CanRead) return -Errno.EBADF;
            n = f.Stream.Read(data, 0, data.Length);
        }
        if (n > 0 && !_memory.TryWrite(buffer, data.AsSpan(0, (int)n))) return -Errno.EFAULT;
        return n;
    }

    private static long ReadHost(int fd, byte[] data)
    {
        fixed (byte* p = data) return HostLibc.Result(HostLibc.read(fd, p, data.Length));
    }

    /// <summary>
    /// A host call that may block (a read from a pipe or a terminal, a poll): made without the processor when another
    /// thread could run meanwhile, so that a thread waiting for input does not stop the others.
    /// </summary>
    private long MayBlock(Func<long> hostCall) => Threads.HasOtherThreads ? Threads.WithoutProcessor(hostCall) : hostCall();

    private long Write(int fd, ulong buffer, ulong count)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        var data = new byte[(int)Math.Min(count, MaxIo)];
        if (!_memory.TryRead(buffer, data)) return -Errno.EFAULT;
        return WriteBytes(f, data);
    }

    private static long WriteBytes(OpenFile f, byte[] data)
    {
        if (!f.IsHost)
        {
            if (!f.Stream!.CanWrite) return -Errno.EBADF;
            f.Stream.Write(data);
            return data.Length;
        }
        fixed (byte* p = data) return HostLibc.Result(HostLibc.write(f.HostFd, p, data.Length));
    }

    private long PRead(long fd, ulong buffer, ulong count, long offset)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        if (!f.IsHost) return -Errno.ESPIPE;
        var data = new byte[(int)Math.Min(count, MaxIo)];
        long n;
        fixed (byte* p = data) n = HostLibc.Result(HostLibc.pread64(f.HostFd, p, data.Length, offset));
        if (n > 0 && !_memory.TryWrite(buffer, data.AsSpan(0, (int)n))) return -Errno.EFAULT;
        return n;
    }

    private long PWrite(long fd, ulong buffer, ulong count, long offset)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        if (!f.IsHost) return -Errno.ESPIPE;
        var data = new byte[(int)Math.Min(count, MaxIo)];
        if (!_memory.TryRead(buffer, data)) return -Errno.EFAULT;
        fixed (byte* p = data) return HostLibc.Result(HostLibc.pwrite64(f.HostFd, p, data.Length, offset));
    }

    private bool TryReadIovecs(ulong iov, int count, out (ulong Base, ulong Length)[] vectors)
    {
        vectors = [];
        if (count < 0 || count > 1024) return false;
        var raw = new byte[count * 16];
        if (!_memory.TryRead(iov, raw)) return false;
        vectors = new (ulong, ulong)[count];
        for (int i = 0; i < count; i++)
            vectors[i] = (BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(i * 16)), BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(i * 16 + 8)));
        return true;
    }

    private long WriteV(long fd, ulong iov, int count)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        if (count < 0 || count > 1024) return -Errno.EINVAL;
        if (!TryReadIovecs(iov, count, out var vectors)) return -Errno.EFAULT;
        // One write for the gathered bytes, as the kernel makes the whole vector one operation.
        using var gathered = new MemoryStream();
        foreach (var (b, len) in vectors)
        {
            if (len > MaxIo) return -Errno.EINVAL;
            var part = new byte[(int)len];
            if (!_memory.TryRead(b, part)) return -Errno.EFAULT;
            gathered.Write(part);
        }
        return WriteBytes(f, gathered.ToArray());
    }

    private long ReadV(long fd, ulong iov, int count)
    {
        if (File(fd) is null) return -Errno.EBADF;
        if (count < 0 || count > 1024) return -Errno.EINVAL;
        if (!TryReadIovecs(iov, count, out var vectors)) return -Errno.EFAULT;
        long total = 0;
        foreach (var (b, len) in vectors)
        {
            if (len == 0) continue;
            long n = Read((int)fd, b, len);
            if (n < 0) return total > 0 ? total : n;
            total += n;
            if ((ulong)n < len) break;
        }
        return total;
    }

    private long OpenAt(int dirfd, ulong pathPointer, int flags, uint mode)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (IsProcSelfExe(path)) path = Encoding.UTF8.GetBytes(_options.ProgramPath);
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        int fd;
        fixed (byte* p = NulTerminated(path)) fd = HostLibc.openat(host, p, flags | 0x80000 /* O_CLOEXEC on the host side */, mode);
        if (fd < 0) return HostLibc.Error();
        var file = OpenFile.ForHost(fd, Encoding.UTF8.GetString(path));
        file.CloseOnExec = (flags & 0x80000) != 0;
        return Files.Add(file);
    }

    private static byte[] NulTerminated(byte[] s)
    {
        var r = new byte[s.Length + 1];
        s.CopyTo(r, 0);
        return r;
    }

    private long Lseek(long fd, long offset, int whence)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        if (!f.IsHost) return -Errno.ESPIPE;
        return HostLibc.Result(HostLibc.lseek(f.HostFd, offset, whence));
    }

    private const int StatSize = 144, StatxSize = 256;

    private long Fstat(long fd, ulong buffer)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        var st = new byte[StatSize];
        if (f.IsHost)
        {
            fixed (byte* p = st)
                if (HostLibc.fstat(f.HostFd, p) < 0) return HostLibc.Error();
        }
        else
        {
            // A stream reads as a pipe, as a captured standard stream would natively.
            BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(16), 1);
            BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(24), 0x1000 | 0x180); // S_IFIFO | 0600
            BinaryPrimitives.WriteInt64LittleEndian(st.AsSpan(56), 4096);
        }
        return _memory.TryWrite(buffer, st) ? 0 : -Errno.EFAULT;
    }

    private long StatAt(int dirfd, ulong pathPointer, ulong buffer, int flags)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (path.Length == 0 && (flags & AtEmptyPath) != 0) return Fstat(dirfd, buffer);
        if (IsProcSelfExe(path)) path = Encoding.UTF8.GetBytes(_options.ProgramPath);
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        var st = new byte[StatSize];
        fixed (byte* p = NulTerminated(path))
        fixed (byte* b = st)
            if (HostLibc.fstatat(host, p, b, flags) < 0) return HostLibc.Error();
        return _memory.TryWrite(buffer, st) ? 0 : -Errno.EFAULT;
    }

    private long Statx(int dirfd, ulong pathPointer, int flags, uint mask, ulong buffer)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        var st = new byte[StatxSize];
        if (path.Length == 0 && (flags & AtEmptyPath) != 0 && File(dirfd) is { IsHost: false })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(0), 0x7FF); // STATX_BASIC_STATS
            BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(4), 4096);
            BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(16), 1);
            BinaryPrimitives.WriteUInt16LittleEndian(st.AsSpan(28), 0x1000 | 0x180);
            return _memory.TryWrite(buffer, st) ? 0 : -Errno.EFAULT;
        }
        if (IsProcSelfExe(path)) path = Encoding.UTF8.GetBytes(_options.ProgramPath);
        int? host = path.Length == 0 && (flags & AtEmptyPath) != 0 ? File(dirfd)?.HostFd : HostDir(dirfd);
        if (host is null) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(path))
        fixed (byte* b = st)
            if (HostLibc.statx(host.Value, p, flags, mask, b) < 0) return HostLibc.Error();
        return _memory.TryWrite(buffer, st) ? 0 : -Errno.EFAULT;
    }

    private long AccessAt(int dirfd, ulong pathPointer, int mode, int flags)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(path)) return HostLibc.Result(HostLibc.faccessat(host, p, mode, flags));
    }

    private long UnlinkAt(int dirfd, ulong pathPointer, int flags)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(path)) return HostLibc.Result(HostLibc.unlinkat(host, p, flags));
    }

    private long MkdirAt(int dirfd, ulong pathPointer, uint mode)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(path)) return HostLibc.Result(HostLibc.mkdirat(host, p, mode));
    }

    /// <summary>symlink, symlinkat: the target is stored as given; the link is made relative to the directory.</summary>
    private long SymlinkAt(ulong targetPointer, int dirfd, ulong linkPointer)
    {
        var target = Path(targetPointer);
        var link = Path(linkPointer);
        if (target is null || link is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        fixed (byte* t = NulTerminated(target))
        fixed (byte* l = NulTerminated(link))
            return HostLibc.Result(HostLibc.symlinkat(t, host, l));
    }

    /// <summary>link, linkat: a hard link on the host file system.</summary>
    private long LinkAt(int olddir, ulong oldPointer, int newdir, ulong newPointer, int flags)
    {
        var from = Path(oldPointer);
        var to = Path(newPointer);
        if (from is null || to is null) return -Errno.EFAULT;
        if (HostDir(olddir) is not { } a || HostDir(newdir) is not { } b) return -Errno.EBADF;
        fixed (byte* f = NulTerminated(from))
        fixed (byte* t = NulTerminated(to))
            return HostLibc.Result(HostLibc.linkat(a, f, b, t, flags));
    }

    /// <summary>truncate: by path, relative to the working directory.</summary>
    private long Truncate(ulong pathPointer, long length)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (path.Length > 0 && path[0] != (byte)'/' && _workingDirectoryFd != AtFdCwd)
        {
            // No truncateat: open the file relative to the directory and truncate the descriptor.
            int fd;
            fixed (byte* p = NulTerminated(path)) fd = HostLibc.openat(_workingDirectoryFd, p, 1 /* O_WRONLY */ | OCloexec, 0);
            if (fd < 0) return HostLibc.Error();
            long result = HostLibc.Result(HostLibc.ftruncate(fd, length));
            HostLibc.close(fd);
            return result;
        }
        fixed (byte* p = NulTerminated(path)) return HostLibc.Result(HostLibc.truncate(p, length));
    }

    /// <summary>chmod, fchmodat: the host file's mode (AT_SYMLINK_NOFOLLOW is refused by the host as by Linux).</summary>
    private long ChmodAt(int dirfd, ulong pathPointer, uint mode, int flags)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(path)) return HostLibc.Result(HostLibc.fchmodat(host, p, mode, flags));
    }

    /// <summary>chown, lchown, fchownat: the host file's owner, as far as dispatch's own user may change it.</summary>
    private long ChownAt(int dirfd, ulong pathPointer, uint owner, uint group, int flags)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(path)) return HostLibc.Result(HostLibc.fchownat(host, p, owner, group, flags));
    }

    /// <summary>fsync, fdatasync, fchmod, fchown on a descriptor: the host file's; a stream that is not a host file succeeds.</summary>
    private long OnHostFile(long fd, Func<int, int> call)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        return f.IsHost ? HostLibc.Result(call(f.HostFd)) : 0;
    }

    private long RenameAt(int olddir, ulong oldPointer, int newdir, ulong newPointer)
    {
        var from = Path(oldPointer);
        var to = Path(newPointer);
        if (from is null || to is null) return -Errno.EFAULT;
        if (HostDir(olddir) is not { } a || HostDir(newdir) is not { } b) return -Errno.EBADF;
        fixed (byte* p = NulTerminated(from))
        fixed (byte* q = NulTerminated(to))
            return HostLibc.Result(HostLibc.renameat(a, p, b, q));
    }

    private long ReadLinkAt(int dirfd, ulong pathPointer, ulong buffer, ulong size)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if ((long)size <= 0) return -Errno.EINVAL;
        byte[] target;
        if (IsProcSelfExe(path)) target = Encoding.UTF8.GetBytes(_options.ProgramPath);
        else
        {
            if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
            var buf = new byte[4096];
            long n;
            fixed (byte* p = NulTerminated(path))
            fixed (byte* b = buf)
                n = HostLibc.Result(HostLibc.readlinkat(host, p, b, buf.Length));
            if (n < 0) return n;
            target = buf[..(int)n];
        }
        int len = (int)Math.Min((ulong)target.Length, size);
        return _memory.TryWrite(buffer, target.AsSpan(0, len)) ? len : -Errno.EFAULT;
    }

    private long GetDents64(long fd, ulong buffer, ulong count)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        if (!f.IsHost) return -Errno.ENOTDIR;
        var data = new byte[(int)Math.Min(count, 1 << 20)];
        long n;
        fixed (byte* p = data) n = HostLibc.Result(HostLibc.getdents64(f.HostFd, p, data.Length));
        if (n > 0 && !_memory.TryWrite(buffer, data.AsSpan(0, (int)n))) return -Errno.EFAULT;
        return n;
    }

    private long GetCwd(ulong buffer, ulong size)
    {
        var cwd = Encoding.UTF8.GetBytes(WorkingDirectory + "\0");
        if ((ulong)cwd.Length > size) return -Errno.ERANGE;
        return _memory.TryWrite(buffer, cwd) ? cwd.Length : -Errno.EFAULT;
    }

    private const ulong Tcgets = 0x5401, Tiocgwinsz = 0x5413;

    private long Ioctl(long fd, ulong request, ulong argument)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        int size = request switch { Tcgets => 36, Tiocgwinsz => 8, _ => -1 };
        if (size < 0 || !f.IsHost) return -Errno.ENOTTY;
        var data = new byte[64];
        fixed (byte* p = data)
            if (HostLibc.ioctl(f.HostFd, request, p) < 0) return HostLibc.Error();
        return _memory.TryWrite(argument, data.AsSpan(0, size)) ? 0 : -Errno.EFAULT;
    }

    private long Fcntl(long fd, int command, ulong argument)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        switch (command)
        {
            case 0: case 1030: // F_DUPFD, F_DUPFD_CLOEXEC
            {
                if (argument >= FileTable.Limit) return -Errno.EINVAL;
                var copy = f.Duplicate();
                if (copy is null) return HostLibc.Error();
                copy.CloseOnExec = command == 1030;
                return Files.Add(copy, (int)argument);
            }
            case 1: return f.CloseOnExec ? 1 : 0; // F_GETFD
            case 2: f.CloseOnExec = (argument & 1) != 0; return 0; // F_SETFD
            case 3: // F_GETFL
                if (f.IsHost) return HostLibc.Result(HostLibc.fcntl(f.HostFd, 3, 0));
                return f.Stream!.CanRead && f.Stream.CanWrite ? 2 : f.Stream.CanWrite ? 1 : 0;
            case 4: // F_SETFL
                return f.IsHost ? HostLibc.Result(HostLibc.fcntl(f.HostFd, 4, (long)argument)) : 0;
            case 5: case 6: case 7: // F_GETLK, F_SETLK, F_SETLKW
            case 36: case 37: case 38: // F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW
                return RecordLock(f, command, argument);
            default: return -Errno.EINVAL;
        }
    }

    /// <summary>
    /// POSIX and open-file-description record locks: the host's, on the host file, so that other host processes see them.
    /// struct flock (l_type, l_whence, l_start, l_len, l_pid: 32 bytes) has the same layout in guest and host. A stream
    /// that is not a host file has no other user: every lock is granted and F_GETLK finds none.
    /// </summary>
    private long RecordLock(OpenFile f, int command, ulong argument)
    {
        var flock = new byte[32];
        if (!_memory.TryRead(argument, flock)) return -Errno.EFAULT;
        bool query = command is 5 or 36;
        if (!f.IsHost)
        {
            if (!query) return 0;
            BinaryPrimitives.WriteInt16LittleEndian(flock, 2); // F_UNLCK
            return _memory.TryWrite(argument, flock) ? 0 : -Errno.EFAULT;
        }
        int result;
        fixed (byte* p = flock) result = HostLibc.fcntl_pointer(f.HostFd, command, p);
        if (result < 0) return HostLibc.Error();
        return !query || _memory.TryWrite(argument, flock) ? result : -Errno.EFAULT;
    }

    private long Dup(long fd)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        var copy = f.Duplicate();
        return copy is null ? HostLibc.Error() : Files.Add(copy);
    }

    private long Dup2(long oldFd, long newFd, bool dup3, int flags)
    {
        var f = File(oldFd);
        if (f is null) return -Errno.EBADF;
        if (newFd < 0 || newFd >= FileTable.Limit) return -Errno.EBADF;
        if (oldFd == newFd) return dup3 ? -Errno.EINVAL : newFd;
        var copy = f.Duplicate();
        if (copy is null) return HostLibc.Error();
        copy.CloseOnExec = (flags & 0x80000) != 0;
        Files.Set((int)newFd, copy);
        return newFd;
    }

    private long Pipe(ulong fdsPointer, int flags)
    {
        int* fds = stackalloc int[2];
        if (HostLibc.pipe2(fds, flags | 0x80000) < 0) return HostLibc.Error();
        int r = Files.Add(OpenFile.ForHost(fds[0], "pipe"));
        int w = Files.Add(OpenFile.ForHost(fds[1], "pipe"));
        Span<byte> pair = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(pair, r);
        BinaryPrimitives.WriteInt32LittleEndian(pair[4..], w);
        if (!_memory.TryWrite(fdsPointer, pair))
        {
            Files.Close(r);
            Files.Close(w);
            return -Errno.EFAULT;
        }
        return 0;
    }

    private uint _umask = 0x12;

    private long Umask(uint mask)
    {
        uint old = _umask;
        _umask = mask & 0x1FF;
        return old;
    }
}
