using System.Buffers.Binary;

namespace Dispatch.Linux;

/// <summary>
/// poll and ppoll over the process's descriptors: host files are polled by the host (with the timeout), a stream that is
/// not a host file (captured standard streams) is always ready for what it can do, and a descriptor that is not open
/// reports POLLNVAL, as Linux does. Runtimes poll their standard descriptors at start-up to see that they are open.
/// </summary>
public sealed unsafe partial class LinuxKernel
{
    private const short PollIn = 0x1, PollOut = 0x4, PollInvalid = 0x20;
    private const int PollFdSize = 8; // struct pollfd: int fd; short events; short revents
    private const ulong MaxPollFds = 4096;

    private long Poll(ulong fds, ulong count, long timeoutMs)
    {
        if (count > MaxPollFds) return -Errno.EINVAL;
        var guest = new byte[(int)count * PollFdSize];
        if (!_memory.TryRead(fds, guest)) return -Errno.EFAULT;
        long ready = PollEntries(guest, (int)count, timeoutMs);
        if (ready < 0) return ready;
        return _memory.TryWrite(fds, guest) ? ready : -Errno.EFAULT;
    }

    /// <summary>Polls <paramref name="count"/> struct pollfd held in <paramref name="guest"/>, filling in revents.</summary>
    private long PollEntries(byte[] guest, int count, long timeoutMs)
    {
        var host = new byte[guest.Length];
        var hostIndex = new List<int>();
        int ready = 0;
        for (int i = 0; i < count; i++)
        {
            var entry = guest.AsSpan(i * PollFdSize, PollFdSize);
            int fd = BinaryPrimitives.ReadInt32LittleEndian(entry);
            short events = BinaryPrimitives.ReadInt16LittleEndian(entry[4..]);
            short revents = 0;
            if (fd >= 0)
            {
                var f = File(fd);
                if (f is null) revents = PollInvalid;
                else if (f.IsHost)
                {
                    var h = host.AsSpan(hostIndex.Count * PollFdSize, PollFdSize);
                    BinaryPrimitives.WriteInt32LittleEndian(h, f.HostFd);
                    BinaryPrimitives.WriteInt16LittleEndian(h[4..], events);
                    hostIndex.Add(i);
                }
                else revents = (short)(events & ((f.Stream!.CanRead ? PollIn : 0) | (f.Stream.CanWrite ? PollOut : 0)));
            }
            BinaryPrimitives.WriteInt16LittleEndian(entry[6..], revents);
            if (revents != 0) ready++;
        }
        if (hostIndex.Count > 0)
        {
            // Something is ready already: the host is only asked, not waited for.
            int timeout = ready > 0 ? 0 : (int)Math.Clamp(timeoutMs, -1, int.MaxValue);
            long n = MayBlock(() => PollHost(host, hostIndex.Count, timeout));
            if (n < 0) return n;
            for (int k = 0; k < hostIndex.Count; k++)
            {
                short revents = BinaryPrimitives.ReadInt16LittleEndian(host.AsSpan(k * PollFdSize + 6));
                BinaryPrimitives.WriteInt16LittleEndian(guest.AsSpan(hostIndex[k] * PollFdSize + 6), revents);
                if (revents != 0) ready++;
            }
        }
        else if (ready == 0 && timeoutMs != 0)
        {
            // Nothing can become ready: wait out the timeout (or until a signal), as the call would.
            long deadline = timeoutMs < 0 ? long.MaxValue
                : System.Diagnostics.Stopwatch.GetTimestamp() + (long)(timeoutMs * (System.Diagnostics.Stopwatch.Frequency / 1000.0));
            if (timeoutMs < 0 && TimerDeadline is null) return WaitForSignal();
            if (SleepUntil(deadline)) return -Errno.EINTR;
        }
        return ready;
    }

    private static long PollHost(byte[] fds, int count, int timeout)
    {
        fixed (byte* p = fds) return HostLibc.Result(HostLibc.poll(p, (ulong)count, timeout));
    }

    /// <summary>
    /// ppoll: the timeout is a struct timespec (null: wait indefinitely); a signal mask replaces the thread's for the
    /// wait, as rt_sigsuspend's does.
    /// </summary>
    private long PPoll(ulong fds, ulong count, ulong timeout, ulong mask, ulong maskSize)
    {
        long error = ReadTimeoutMilliseconds(timeout, out long timeoutMs);
        if (error != 0) return error;
        if (mask == 0) return Poll(fds, count, timeoutMs);
        if (maskSize != 8) return -Errno.EINVAL;
        return WithTemporaryMask(mask, () => Poll(fds, count, timeoutMs));
    }

    /// <summary>A struct timespec timeout in milliseconds, rounded up; -1 (wait indefinitely) for a null pointer. 0 or -errno.</summary>
    private long ReadTimeoutMilliseconds(ulong timespec, out long milliseconds)
    {
        milliseconds = -1;
        if (timespec == 0) return 0;
        Span<byte> ts = stackalloc byte[16];
        if (!_memory.TryRead(timespec, ts)) return -Errno.EFAULT;
        long s = BinaryPrimitives.ReadInt64LittleEndian(ts), ns = BinaryPrimitives.ReadInt64LittleEndian(ts[8..]);
        if (s < 0 || ns is < 0 or >= 1_000_000_000) return -Errno.EINVAL;
        milliseconds = Math.Min(s, int.MaxValue / 1000) * 1000 + (ns + 999_999) / 1_000_000;
        return 0;
    }

    /// <summary>
    /// Waits with the signal mask at <paramref name="maskPointer"/> in place of the thread's (ppoll, pselect6). When a
    /// signal ends the wait, its frame saves the original mask and its handler's return restores it; otherwise the
    /// original comes back at once.
    /// </summary>
    private long WithTemporaryMask(ulong maskPointer, Func<long> wait)
    {
        if (!_memory.TryReadUInt64(maskPointer, out ulong temporary)) return -Errno.EFAULT;
        ulong original = CurrentSignals.Mask;
        SignalMask = temporary;
        long result = wait();
        if (result == -Errno.EINTR && (PendingForCurrent & ~CurrentSignals.Mask) != 0) CurrentSignals.MaskToRestore = original;
        else SignalMask = original;
        return result;
    }
}
