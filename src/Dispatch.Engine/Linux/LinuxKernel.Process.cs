using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace Dispatch.Linux;

/// <summary>Process, time and identity calls.</summary>
public sealed unsafe partial class LinuxKernel
{
    private const int ArchSetGs = 0x1001, ArchSetFs = 0x1002, ArchGetFs = 0x1003, ArchGetGs = 0x1004;
    private static readonly long StartTicks = Stopwatch.GetTimestamp();

    private long ArchPrctl(int code, ulong address)
    {
        switch (code)
        {
            case ArchSetFs:
                if (address >= AddressSpace.UserTop) return -Errno.EPERM;
                FsBase = address;
                PendingFsBase = address;
                return 0;
            case ArchGetFs:
                return _memory.TryWriteUInt64(address, FsBase) ? 0 : -Errno.EFAULT;
            case ArchSetGs: case ArchGetGs:
                return -Errno.EINVAL;
            default:
                return -Errno.EINVAL;
        }
    }

    private long Uname(ulong buffer)
    {
        var u = new byte[390];
        fixed (byte* p = u)
            if (HostLibc.uname(p) < 0) return HostLibc.Error();
        return _memory.TryWrite(buffer, u) ? 0 : -Errno.EFAULT;
    }

    /// <summary>
    /// sysinfo(2) for a machine with one process, no swap and no load, whose RAM is the process's memory limit; the C
    /// library derives _SC_PHYS_PAGES and _SC_AVPHYS_PAGES from it (qsort sizes its buffer by them).
    /// </summary>
    private long SysInfo(ulong buffer)
    {
        Span<byte> info = stackalloc byte[112]; // struct sysinfo on x86-64
        info.Clear();
        BinaryPrimitives.WriteInt64LittleEndian(info, Monotonic().Seconds); // uptime
        BinaryPrimitives.WriteUInt64LittleEndian(info[32..], _memory.MemoryLimit); // totalram
        BinaryPrimitives.WriteUInt64LittleEndian(info[40..], _memory.MemoryLimit - Math.Min(_memory.ResidentBytes, _memory.MemoryLimit)); // freeram
        BinaryPrimitives.WriteUInt16LittleEndian(info[80..], 1); // procs
        BinaryPrimitives.WriteUInt32LittleEndian(info[104..], 1); // mem_unit: sizes are in bytes
        return _memory.TryWrite(buffer, info) ? 0 : -Errno.EFAULT;
    }

    private long PrLimit(int pid, int resource, ulong newLimit, ulong oldLimit)
    {
        if (pid != 0 && pid != ProcessId) return -Errno.ESRCH;
        if (resource is < 0 or > 15) return -Errno.EINVAL;
        if (oldLimit != 0)
        {
            (ulong cur, ulong max) = resource switch
            {
                3 => (8UL << 20, ulong.MaxValue), // RLIMIT_STACK
                7 => ((ulong)FileTable.Limit, (ulong)FileTable.Limit), // RLIMIT_NOFILE
                _ => (ulong.MaxValue, ulong.MaxValue),
            };
            var b = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(b, cur);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), max);
            if (!_memory.TryWrite(oldLimit, b)) return -Errno.EFAULT;
        }
        if (newLimit != 0 && !_memory.TryRead(newLimit, new byte[16])) return -Errno.EFAULT;
        return 0;
    }

    private long GetRandom(ulong buffer, ulong length)
    {
        var b = new byte[(int)Math.Min(length, 1 << 20)];
        RandomNumberGenerator.Fill(b);
        return _memory.TryWrite(buffer, b) ? b.Length : -Errno.EFAULT;
    }

    internal static (long Seconds, long Nanoseconds) Realtime()
    {
        long ticks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
        return (ticks / TimeSpan.TicksPerSecond, ticks % TimeSpan.TicksPerSecond * 100);
    }

    internal static (long Seconds, long Nanoseconds) Monotonic()
    {
        long ns = (long)((Stopwatch.GetTimestamp() - StartTicks) * (1e9 / Stopwatch.Frequency)) + 1_000_000_000L;
        return (ns / 1_000_000_000, ns % 1_000_000_000);
    }

    private bool WritePair(ulong address, long a, long b)
    {
        Span<byte> buf = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(buf, a);
        BinaryPrimitives.WriteInt64LittleEndian(buf[8..], b);
        return _memory.TryWrite(address, buf);
    }

    private long ClockGetTime(int clock, ulong timespec)
    {
        if (clock is < 0 or > 11) return -Errno.EINVAL;
        var (s, ns) = clock is 0 or 5 or 8 or 11 ? Realtime() : Monotonic();
        return WritePair(timespec, s, ns) ? 0 : -Errno.EFAULT;
    }

    private long ClockGetRes(ulong timespec) => timespec == 0 || WritePair(timespec, 0, 1) ? 0 : -Errno.EFAULT;

    private long GetTimeOfDay(ulong timeval)
    {
        if (timeval == 0) return 0;
        var (s, ns) = Realtime();
        return WritePair(timeval, s, ns / 1000) ? 0 : -Errno.EFAULT;
    }

    private long Time(ulong pointer)
    {
        long s = Realtime().Seconds;
        if (pointer != 0 && !_memory.TryWriteUInt64(pointer, (ulong)s)) return -Errno.EFAULT;
        return s;
    }

    private long NanoSleep(ulong request, ulong remaining)
    {
        Span<byte> buf = stackalloc byte[16];
        if (!_memory.TryRead(request, buf)) return -Errno.EFAULT;
        long s = BinaryPrimitives.ReadInt64LittleEndian(buf), ns = BinaryPrimitives.ReadInt64LittleEndian(buf[8..]);
        if (s < 0 || ns is < 0 or >= 1_000_000_000) return -Errno.EINVAL;
        return Sleep(Math.Min(s, 1L << 30) * 1_000_000_000 + ns, remaining);
    }

    private long ClockNanoSleep(int flags, ulong request, ulong remaining)
    {
        if ((flags & 1) == 0) return NanoSleep(request, remaining);
        Span<byte> buf = stackalloc byte[16];
        if (!_memory.TryRead(request, buf)) return -Errno.EFAULT;
        long target = BinaryPrimitives.ReadInt64LittleEndian(buf) * 1_000_000_000 + BinaryPrimitives.ReadInt64LittleEndian(buf[8..]);
        var (s, ns) = Monotonic();
        long wait = target - (s * 1_000_000_000 + ns);
        // TIMER_ABSTIME: an interrupted sleep leaves the remaining time unwritten, as the target itself says it.
        return wait > 0 ? Sleep(wait, 0) : 0;
    }
}
