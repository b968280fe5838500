using System.Globalization;
using System.Text;
using Dispatch.Linux.Threads;

namespace Dispatch.Linux;

/// <summary>
/// The system-call layer of one single-threaded Linux process: takes the number and six arguments of a SYSCALL (RAX; RDI,
/// RSI, RDX, R10, R8, R9) and returns RAX, a value or a negated errno. User pointers go through the process's page tables
/// (<see cref="AddressSpace"/>); a bad one is -EFAULT. Files are the host's. Calls it does not implement return -ENOSYS
/// and are reported once.
/// </summary>
public sealed partial class LinuxKernel
{
    private readonly AddressSpace _memory;
    private readonly LinuxProcessOptions _options;
    private readonly HashSet<long> _reportedUnimplemented = [];
    private readonly long[] _counts = new long[512];

    internal LinuxKernel(AddressSpace memory, LinuxProcessOptions options, ulong brkStart, IThreadHost threads)
    {
        _memory = memory;
        Threads = threads;
        _options = options;
        _brkStart = _brk = brkStart;
        Files = new FileTable();
    }

    public FileTable Files { get; }

    /// <summary>Set by exit and exit_group (and by a fatal signal the process sends itself): the process is over.</summary>
    public int? ExitStatus { get; private set; }

    /// <summary>Why the process ended abnormally (a fatal signal), for the user.</summary>
    public string? TerminationMessage { get; private set; }

    /// <summary>The process's threads: who is calling, and what waits and thread calls need of the process.</summary>
    internal IThreadHost Threads { get; }


    /// <summary>FS base requested by arch_prctl(ARCH_SET_FS), to be written to the VMCS by the caller.</summary>
    public ulong? PendingFsBase { get; set; }

    public ulong FsBase { get; set; }

    /// <summary>System calls made, by number.</summary>
    public IEnumerable<(long Number, long Count)> Counts()
    {
        for (int i = 0; i < _counts.Length; i++)
            if (_counts[i] != 0) yield return (i, _counts[i]);
    }

    public long TotalCalls => _counts.Sum();

    /// <summary>Performs one system call.</summary>
    public long Invoke(long number, ulong a0, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        if (number is >= 0 and < 512) _counts[number]++;
        string? before = _options.Trace is null ? null : FormatCall(number, a0, a1, a2, a3, a4, a5);
        long result;
        try
        {
            result = Dispatch(number, a0, a1, a2, a3, a4, a5);
        }
        catch (OutOfMemoryException)
        {
            result = -Errno.ENOMEM;
        }
        if (_options.Trace is { } trace)
        {
            trace.Write(CompleteTrace(before!, a1, result));
            if (ExitStatus is not null && number is 60 or 231) trace.WriteLine(" = ?");
            else trace.WriteLine(" = " + FormatResult(number, result, a1));
        }
        return result;
    }

    private long Dispatch(long n, ulong a0, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5) => n switch
    {
        0 => Read((int)a0, a1, a2),
        1 => Write((int)a0, a1, a2),
        2 => OpenAt(AtFdCwd, a0, (int)a1, (uint)a2),
        3 => Files.Close((long)a0) ? 0 : -Errno.EBADF,
        4 => StatAt(AtFdCwd, a0, a1, 0),
        5 => Fstat((long)a0, a1),
        6 => StatAt(AtFdCwd, a0, a1, AtSymlinkNofollow),
        7 => Poll(a0, a1, (int)a2),
        8 => Lseek((long)a0, (long)a1, (int)a2),
        9 => Mmap(a0, a1, (int)a2, (int)a3, (long)a4, a5),
        10 => Mprotect(a0, a1, (int)a2),
        11 => Munmap(a0, a1),
        12 => Brk(a0),
        13 => SigAction((int)a0, a1, a2, a3),
        14 => SigProcMask((int)a0, a1, a2, a3),
        16 => Ioctl((long)a0, a1, a2),
        17 => PRead((long)a0, a1, a2, (long)a3),
        18 => PWrite((long)a0, a1, a2, (long)a3),
        19 => ReadV((long)a0, a1, (int)a2),
        20 => WriteV((long)a0, a1, (int)a2),
        21 => AccessAt(AtFdCwd, a0, (int)a1, 0),
        22 => Pipe(a0, 0),
        23 => Select((int)a0, a1, a2, a3, a4),
        24 => Threads.Yield(),
        25 => Mremap(a0, a1, a2, (int)a3, a4),
        28 => 0,
        32 => Dup((long)a0),
        33 => Dup2((long)a0, (long)a1, dup3: false, 0),
        34 => WaitForSignal(),
        35 => NanoSleep(a0, a1),
        36 => GetTimer((int)a0, a1),
        37 => Alarm(a0),
        38 => SetTimer((int)a0, a1, a2),
        39 => ProcessId,
        44 => SendTo((long)a0, a1, a2, (int)a3, a4),
        45 => ReceiveFrom((long)a0, a1, a2, (int)a3, a4),
        48 => Shutdown((long)a0, (int)a1),
        53 => SocketPair((int)a0, (int)a1, (int)a2, a3),
        56 => Threads.Clone(a0, a1, a2, a3, a4),
        60 => Threads.ExitThread((int)a0) ? Exit((int)a0) : 0,
        231 => Exit((int)a0),
        62 => Kill((int)a0, (int)a1, Signals.Signal.SiUser),
        63 => Uname(a0),
        72 => Fcntl((long)a0, (int)a1, a2),
        74 => OnHostFile((long)a0, HostLibc.fsync),
        75 => OnHostFile((long)a0, HostLibc.fdatasync),
        76 => Truncate(a0, (long)a1),
        77 => File((long)a0) is { IsHost: true } f77 ? HostLibc.Result(HostLibc.ftruncate(f77.HostFd, (long)a1)) : -Errno.EBADF,
        79 => GetCwd(a0, a1),
        80 => ChangeDirectory(AtFdCwd, a0),
        81 => ChangeDirectory((long)a0),
        82 => RenameAt(AtFdCwd, a0, AtFdCwd, a1),
        83 => MkdirAt(AtFdCwd, a0, (uint)a1),
        90 => ChmodAt(AtFdCwd, a0, (uint)a1, 0),
        91 => OnHostFile((long)a0, fd => HostLibc.fchmod(fd, (uint)a1)),
        92 => ChownAt(AtFdCwd, a0, (uint)a1, (uint)a2, 0),
        93 => OnHostFile((long)a0, fd => HostLibc.fchown(fd, (uint)a1, (uint)a2)),
        94 => ChownAt(AtFdCwd, a0, (uint)a1, (uint)a2, AtSymlinkNofollow),
        84 => UnlinkAt(AtFdCwd, a0, AtRemoveDir),
        86 => LinkAt(AtFdCwd, a0, AtFdCwd, a1, 0),
        87 => UnlinkAt(AtFdCwd, a0, 0),
        88 => SymlinkAt(a0, AtFdCwd, a1),
        89 => ReadLinkAt(AtFdCwd, a0, a1, a2),
        95 => Umask((uint)a0),
        96 => GetTimeOfDay(a0),
        97 => PrLimit(0, (int)a0, 0, a1),
        98 => _memory.TryWrite(a1, new byte[144]) ? 0 : -Errno.EFAULT,
        99 => SysInfo(a0),
        102 => HostLibc.getuid(),
        104 => HostLibc.getgid(),
        107 => HostLibc.geteuid(),
        108 => HostLibc.getegid(),
        110 => HostLibc.getppid(),
        111 => ProcessId,
        127 => SigPending(a0, a1),
        130 => SigSuspend(a0, a1),
        131 => SigAltStack(a0, a1, Threads.UserStackPointer),
        157 => -Errno.EINVAL,
        158 => ArchPrctl((int)a0, a1),
        186 => Threads.CurrentTid,
        200 => KillThread((int)a0, (int)a1),
        201 => Time(a0),
        202 => Threads.Futex(a0, (int)a1, (uint)a2, a3, a4, (uint)a5),
        213 => EpollCreate(0),
        217 => GetDents64((long)a0, a1, a2),
        203 => 0, // sched_setaffinity: there is one processor to run on anyway
        204 => SchedGetAffinity(a1, a2),
        218 => Threads.SetTidAddress(a0),
        228 => ClockGetTime((int)a0, a1),
        229 => ClockGetRes(a1),
        230 => ClockNanoSleep((int)a1, a2, a3),
        234 => (int)a0 == ProcessId ? KillThread((int)a1, (int)a2) : -Errno.ESRCH,
        232 => EpollWait((long)a0, a1, (int)a2, (int)a3),
        233 => EpollControl((long)a0, (int)a1, (long)a2, a3),
        257 => OpenAt((int)a0, a1, (int)a2, (uint)a3),
        258 => MkdirAt((int)a0, a1, (uint)a2),
        260 => ChownAt((int)a0, a1, (uint)a2, (uint)a3, (int)a4),
        262 => StatAt((int)a0, a1, a2, (int)a3),
        263 => UnlinkAt((int)a0, a1, (int)a2),
        264 => RenameAt((int)a0, a1, (int)a2, a3),
        265 => LinkAt((int)a0, a1, (int)a2, a3, (int)a4),
        266 => SymlinkAt(a0, (int)a1, a2),
        267 => ReadLinkAt((int)a0, a1, a2, a3),
        268 => ChmodAt((int)a0, a1, (uint)a2, 0),
        270 => PSelect((int)a0, a1, a2, a3, a4, a5),
        271 => PPoll(a0, a1, a2, a3, a4),
        269 or 439 => AccessAt((int)a0, a1, (int)a2, n == 439 ? (int)a3 : 0),
        273 => 0,
        281 => EpollPWait((long)a0, a1, (int)a2, (int)a3, a4, a5),
        284 => EventFd((uint)a0, 0),
        290 => EventFd((uint)a0, (int)a1),
        291 => EpollCreate((int)a0),
        292 => Dup2((long)a0, (long)a1, dup3: true, (int)a2),
        293 => Pipe(a0, (int)a1),
        302 => PrLimit((int)a0, (int)a1, a2, a3),
        318 => GetRandom(a0, a1),
        332 => Statx((int)a0, a1, (int)a2, (uint)a3, a4),
        334 => -Errno.ENOSYS, // rseq: glibc runs without restartable sequences when registration fails
        435 => -Errno.ENOSYS, // clone3: glibc falls back to clone
        _ => Unimplemented(n),
    };

    private long Unimplemented(long number)
    {
        if (_reportedUnimplemented.Add(number))
            _options.Diagnostics?.WriteLine($"dispatch: system call {number} ({SyscallTable.Name(number)}) is not implemented; it returns -ENOSYS");
        return -Errno.ENOSYS;
    }

    /// <summary>The process id the guest sees (the host's pid of the VMM).</summary>
    public static int ProcessId { get; } = Environment.ProcessId;

    /// <summary>sched_getaffinity: the process's threads share one processor (CPU 0); the kernel's cpumask is 8 bytes.</summary>
    private long SchedGetAffinity(ulong size, ulong mask)
    {
        if (size < 8 || (size & 7) != 0) return -Errno.EINVAL;
        return _memory.TryWriteUInt64(mask, 1) ? 8 : -Errno.EFAULT;
    }

    private long Exit(int status)
    {
        ExitStatus = status & 0xFF;
        return 0;
    }

    // ---- Tracing ------------------------------------------------------------------------------------------------------

    private string FormatCall(long number, ulong a0, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        Span<ulong> args = [a0, a1, a2, a3, a4, a5];
        string kinds = SyscallTable.ArgumentKinds(number);
        var sb = new StringBuilder(SyscallTable.Name(number)).Append('(');
        for (int i = 0; i < kinds.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            ulong v = args[i];
            switch (kinds[i])
            {
                case 'd': sb.Append(((long)v is >= int.MinValue and <= int.MaxValue ? (int)v : (long)v).ToString(CultureInfo.InvariantCulture)); break;
                case 's':
                    var s = _memory.TryReadCString(v);
                    sb.Append(s is null ? $"0x{v:x}" : Quote(s, 64));
                    break;
                case 'w':
                {
                    int len = (int)Math.Min(args[i + 1], 32);
                    var buf = new byte[len];
                    sb.Append(_memory.TryRead(v, buf) ? Quote(buf, 32) + (args[i + 1] > 32 ? "..." : "") : $"0x{v:x}");
                    break;
                }
                case 'r': sb.Append('\u0001'); break; // filled in after the call
                default: sb.Append(v == 0 && kinds[i] == 'p' ? "NULL" : $"0x{v:x}"); break;
            }
        }
        return sb.Append(')').ToString();
    }

    private string FormatResult(long number, long result, ulong buffer)
    {
        if (result < 0 && result > -4096) return $"-1 {ErrnoName(-result)}";
        if (number is 9 or 12 or 25) return $"0x{result:x}";
        return result.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Replaces the placeholder for a kernel-filled buffer with its contents (read, pread64).</summary>
    internal string CompleteTrace(string line, ulong buffer, long result)
    {
        int i = line.IndexOf('\u0001');
        if (i < 0) return line;
        string shown = $"0x{buffer:x}";
        if (result >= 0)
        {
            var buf = new byte[Math.Min(result, 32)];
            if (_memory.TryRead(buffer, buf)) shown = Quote(buf, 32) + (result > 32 ? "..." : "");
        }
        return line[..i] + shown + line[(i + 1)..];
    }

    private static string Quote(ReadOnlySpan<byte> bytes, int max)
    {
        var sb = new StringBuilder("\"");
        foreach (byte b in bytes[..Math.Min(bytes.Length, max)])
        {
            sb.Append(b switch
            {
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                (byte)'\r' => "\\r",
                (byte)'"' => "\\\"",
                (byte)'\\' => "\\\\",
                >= 0x20 and < 0x7F => ((char)b).ToString(),
                _ => $"\\x{b:x2}",
            });
        }
        return sb.Append('"').ToString();
    }

    private static string ErrnoName(long errno) => errno switch
    {
        Errno.EPERM => "EPERM", Errno.ENOENT => "ENOENT", Errno.EBADF => "EBADF", Errno.EAGAIN => "EAGAIN",
        Errno.ENOMEM => "ENOMEM", Errno.EACCES => "EACCES", Errno.EFAULT => "EFAULT", Errno.EEXIST => "EEXIST",
        Errno.ENOTDIR => "ENOTDIR", Errno.EISDIR => "EISDIR", Errno.EINVAL => "EINVAL", Errno.EMFILE => "EMFILE",
        Errno.ENOTTY => "ENOTTY", Errno.ESPIPE => "ESPIPE", Errno.ERANGE => "ERANGE", Errno.ENOSYS => "ENOSYS",
        Errno.ESRCH => "ESRCH", Errno.EINTR => "EINTR", Errno.EIO => "EIO", Errno.EPIPE => "EPIPE",
        Errno.ENAMETOOLONG => "ENAMETOOLONG", Errno.ETIMEDOUT => "ETIMEDOUT",
        _ => $"E{errno}",
    };
}
