using System.Buffers.Binary;
using System.Diagnostics;

namespace Dispatch.Linux;

/// <summary>
/// select and pselect6, as poll over the descriptors their fd_set bitmaps name: readable for POLLIN, POLLHUP or POLLERR,
/// writable for POLLOUT or POLLERR, exceptional for POLLPRI; a descriptor that is not open makes the call fail with
/// EBADF. Both write back the time left, as Linux does.
/// </summary>
public sealed partial class LinuxKernel
{
    private const int FdSetBits = 1024;
    private const short PollPriority = 0x2, PollError = 0x8, PollHangUp = 0x10;

    private long Select(int count, ulong read, ulong write, ulong except, ulong timeout)
    {
        long timeoutMs = -1;
        Span<byte> tv = stackalloc byte[16];
        if (timeout != 0)
        {
            if (!_memory.TryRead(timeout, tv)) return -Errno.EFAULT;
            long s = BinaryPrimitives.ReadInt64LittleEndian(tv), us = BinaryPrimitives.ReadInt64LittleEndian(tv[8..]);
            if (s < 0 || us < 0) return -Errno.EINVAL;
            timeoutMs = Math.Min(s, int.MaxValue / 1000) * 1000 + (us + 999) / 1000;
        }
        long start = Stopwatch.GetTimestamp();
        long result = SelectCore(count, read, write, except, timeoutMs);
        if (timeout != 0 && result >= 0)
        {
            long leftUs = Math.Max(0, timeoutMs * 1000 - (long)(Stopwatch.GetElapsedTime(start).TotalMicroseconds));
            BinaryPrimitives.WriteInt64LittleEndian(tv, leftUs / 1_000_000);
            BinaryPrimitives.WriteInt64LittleEndian(tv[8..], leftUs % 1_000_000);
            _memory.TryWrite(timeout, tv);
        }
        return result;
    }

    /// <summary>
    /// pselect6: a struct timespec (the system call writes the time left back; C libraries build select on it) and a
    /// { sigset pointer, size } pair for the wait.
    /// </summary>
    private long PSelect(int count, ulong read, ulong write, ulong except, ulong timeout, ulong maskArgument)
    {
        long start = Stopwatch.GetTimestamp();
        long result = PSelectCore(count, read, write, except, timeout, maskArgument, out long timeoutMs);
        if (timeout != 0 && result >= 0)
        {
            long leftNs = Math.Max(0, timeoutMs * 1_000_000 - (long)(Stopwatch.GetElapsedTime(start).TotalNanoseconds));
            WritePair(timeout, leftNs / 1_000_000_000, leftNs % 1_000_000_000);
        }
        return result;
    }

    private long PSelectCore(int count, ulong read, ulong write, ulong except, ulong timeout, ulong maskArgument, out long timeoutMs)
    {
        long error = ReadTimeoutMilliseconds(timeout, out timeoutMs);
        if (error != 0) return error;
        ulong mask = 0;
        if (maskArgument != 0)
        {
            Span<byte> pair = stackalloc byte[16];
            if (!_memory.TryRead(maskArgument, pair)) return -Errno.EFAULT;
            mask = BinaryPrimitives.ReadUInt64LittleEndian(pair);
            if (mask != 0 && BinaryPrimitives.ReadUInt64LittleEndian(pair[8..]) != 8) return -Errno.EINVAL;
        }
        long milliseconds = timeoutMs;
        return mask == 0
            ? SelectCore(count, read, write, except, milliseconds)
            : WithTemporaryMask(mask, () => SelectCore(count, read, write, except, milliseconds));
    }

    private long SelectCore(int count, ulong read, ulong write, ulong except, long timeoutMs)
    {
        if (count is < 0 or > FdSetBits) return -Errno.EINVAL;
        int bytes = (count + 63) / 64 * 8;
        var sets = new byte[3][];
        ulong[] pointers = [read, write, except];
        for (int k = 0; k < 3; k++)
        {
            sets[k] = new byte[bytes];
            if (pointers[k] != 0 && !_memory.TryRead(pointers[k], sets[k])) return -Errno.EFAULT;
        }
        var fds = new List<int>();
        for (int fd = 0; fd < count; fd++)
            if (IsSet(sets[0], fd) || IsSet(sets[1], fd) || IsSet(sets[2], fd)) fds.Add(fd);
        var entries = new byte[fds.Count * PollFdSize];
        for (int i = 0; i < fds.Count; i++)
        {
            int fd = fds[i];
            short events = (short)((IsSet(sets[0], fd) ? PollIn : 0) | (IsSet(sets[1], fd) ? PollOut : 0) | (IsSet(sets[2], fd) ? PollPriority : 0));
            BinaryPrimitives.WriteInt32LittleEndian(entries.AsSpan(i * PollFdSize), fd);
            BinaryPrimitives.WriteInt16LittleEndian(entries.AsSpan(i * PollFdSize + 4), events);
        }
        long polled = PollEntries(entries, fds.Count, timeoutMs);
        if (polled < 0) return polled;
        foreach (var set in sets) Array.Clear(set);
        int ready = 0;
        for (int i = 0; i < fds.Count; i++)
        {
            int fd = fds[i];
            short revents = BinaryPrimitives.ReadInt16LittleEndian(entries.AsSpan(i * PollFdSize + 6));
            if ((revents & PollInvalid) != 0) return -Errno.EBADF;
            short events = BinaryPrimitives.ReadInt16LittleEndian(entries.AsSpan(i * PollFdSize + 4));
            if ((events & PollIn) != 0 && (revents & (PollIn | PollHangUp | PollError)) != 0) { Set(sets[0], fd); ready++; }
            if ((events & PollOut) != 0 && (revents & (PollOut | PollError)) != 0) { Set(sets[1], fd); ready++; }
            if ((events & PollPriority) != 0 && (revents & PollPriority) != 0) { Set(sets[2], fd); ready++; }
        }
        for (int k = 0; k < 3; k++)
            if (pointers[k] != 0 && !_memory.TryWrite(pointers[k], sets[k])) return -Errno.EFAULT;
        return ready;
    }

    private static bool IsSet(byte[] set, int fd) => (set[fd / 8] & (1 << (fd % 8))) != 0;

    private static void Set(byte[] set, int fd) => set[fd / 8] |= (byte)(1 << (fd % 8));
}
