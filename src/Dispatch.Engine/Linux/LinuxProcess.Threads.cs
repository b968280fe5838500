using System.Buffers.Binary;
using System.Diagnostics;
using Dispatch.Linux.Threads;
using Dispatch.Vmx;

namespace Dispatch.Linux;

/// <summary>
/// Threads (clone with CLONE_VM | CLONE_THREAD | CLONE_SIGHAND): each is a vCPU of the process's machine on a host thread
/// of its own, and they share one processor (<see cref="UniprocessorScheduler"/>), as on a uniprocessor Linux: a thread
/// gives it up when it waits (futex, sleep), yields, exits, or uses up a time slice, which the VMX-preemption timer ends
/// for a thread that makes no system call. Signal dispositions, the signal mask and pending signals are the process's.
/// </summary>
public sealed partial class LinuxProcess : IThreadHost
{
    private const ulong CloneVm = 0x100, CloneSighand = 0x800, CloneThread = 0x1_0000, CloneSetTls = 0x8_0000,
        CloneParentSetTid = 0x10_0000, CloneChildClearTid = 0x20_0000, CloneChildSetTid = 0x100_0000;
    private const int FutexWait = 0, FutexWake = 1, FutexRequeue = 3, FutexCmpRequeue = 4, FutexWaitBitset = 9,
        FutexWakeBitset = 10, FutexClockRealtime = 256;
    private const uint FutexBitsetMatchAny = uint.MaxValue;
    private static readonly long TimeSliceTicks = Stopwatch.Frequency / 200; // 5 ms
    // Each thread is a vCPU and a host thread: a program that makes threads without end gets EAGAIN, as under RLIMIT_NPROC.
    private const int MaxLiveThreads = 1024;

    private readonly UniprocessorScheduler _scheduler = new();
    private readonly FutexTable _futexes = new();
    private readonly List<LinuxThread> _threads = [];
    private readonly ManualResetEventSlim _ending = new(false);
    private Func<VCpu, RunResult>? _runVCpu;
    private LinuxThread _current = null!;
    private int _nextTid = Environment.ProcessId;
    private long _addressSpaceGeneration;
    private long _sliceDeadline = long.MaxValue;
    private int _endedOnce;
    // vCPUs of threads that have finished, set up again for new ones instead of growing the machine without end.
    private readonly System.Collections.Concurrent.ConcurrentQueue<VCpu> _idleVCpus = new();

    /// <summary>The process's threads, the first one first (finished ones are dropped as new ones are made).</summary>
    public IReadOnlyList<LinuxThread> Threads => _threads;

    /// <summary>Set when a thread's run loop failed (an engine defect): the process ended with it.</summary>
    public string? EngineFailure { get; private set; }

    private void CreateMainThread()
    {
        _current = new LinuxThread(LinuxKernel.ProcessId, VCpu, isMain: true);
        _threads.Add(_current);
    }

    /// <summary>
    /// Runs the process: its first thread with <paramref name="runVCpu"/> on the calling thread, and every thread it
    /// creates on a host thread of its own, until it exits (or stops otherwise). Returns the first thread's run result.
    /// </summary>
    public RunResult Run(Func<VCpu, RunResult> runVCpu)
    {
        _runVCpu = runVCpu;
        var main = _threads[0];
        _scheduler.Acquire(main);
        _current = main;
        try
        {
            var result = runVCpu(main.VCpu);
            if (ExitStatus is null && main.ExitCode is not null)
            {
                // exit(2) of the first thread: the process lives on in the others until the last one exits.
                _scheduler.Release(main);
                foreach (var t in _threads.ToArray())
                    if (t != main) t.Finished.Wait();
            }
            return result;
        }
        finally
        {
            EndProcess();
            _scheduler.Release(main);
            main.Finished.Set();
            foreach (var t in _threads.ToArray()) t.Finished.Wait(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>No thread runs again: waiters return, and whoever asks for the processor is refused.</summary>
    private void EndProcess()
    {
        if (Interlocked.Exchange(ref _endedOnce, 1) != 0) return;
        _scheduler.ShutDown();
        _ending.Set();
        _futexes.WakeAll();
        foreach (var t in _threads.ToArray()) t.WakeSignal.Release();
    }

    private void RunThread(LinuxThread thread)
    {
        bool holding = false;
        try
        {
            if (!_scheduler.Acquire(thread)) return;
            holding = true;
            _current = thread;
            if (thread.TlbGeneration != _addressSpaceGeneration) FlushTlb(thread);
            _runVCpu!(thread.VCpu);
        }
        catch (Exception e)
        {
            // Nothing may escape a host thread (it would take the host process down): the failure ends the process.
            EngineFailure ??= $"thread {thread.Tid}: engine error {e.GetType().Name}: {e.Message}";
        }
        finally
        {
            // The thread exited; or the process ended (exit_group, a fatal signal, a failure) or cannot go on.
            if (thread.ExitCode is null || ExitStatus is not null || EngineFailure is not null) EndProcess();
            if (holding) _scheduler.Release(thread);
            if (EngineFailure is null) _idleVCpus.Enqueue(thread.VCpu); // its run has returned: the vCPU is free
            thread.Finished.Set();
        }
    }

    /// <summary>The process ended while this thread waited for the processor: it may not touch the process again.</summary>
    private bool IsEnding => _ending.IsSet;

    int IThreadHost.CurrentTid => _current.Tid;

    ulong IThreadHost.UserStackPointer => _current.VCpu.Vmcs.Read(VmcsField.GuestRsp);

    long IThreadHost.Clone(ulong flags, ulong stack, ulong parentTid, ulong childTid, ulong tls)
    {
        // Threads only: new processes (fork, vfork, and clone without a shared address space) are not modelled.
        if ((flags & (CloneVm | CloneThread | CloneSighand)) != (CloneVm | CloneThread | CloneSighand)) return -Errno.ENOSYS;
        var parent = _current.VCpu;
        _threads.RemoveAll(t => !t.IsMain && t.Finished.IsSet);
        if (_threads.Count >= MaxLiveThreads) return -Errno.EAGAIN;
        int tid = Interlocked.Increment(ref _nextTid);
        if ((flags & CloneParentSetTid) != 0 && !WriteTid(parentTid, tid)) return -Errno.EFAULT;
        // The address space is shared, so the child's copy of its TID can be written before the child exists.
        if ((flags & CloneChildSetTid) != 0 && !WriteTid(childTid, tid)) return -Errno.EFAULT;
        ulong sp = stack != 0 ? stack : parent.Vmcs.Read(VmcsField.GuestRsp);
        if (!_idleVCpus.TryDequeue(out var vcpu)) vcpu = Machine.CreateVCpu();
        // The child returns from the same SYSCALL with RAX = 0: RIP and RFLAGS are what SYSCALL saved in RCX and R11.
        SetUpUserVCpu(vcpu, parent.Registers.Rcx, sp);
        vcpu.Registers = parent.Registers;
        vcpu.Registers.Rax = 0;
        vcpu.Registers.Rsp = sp;
        vcpu.Vmcs.Write(VmcsField.GuestRflags, (parent.Registers.R11 & RestorableFlags) | UserFlags);
        vcpu.Vmcs.Write(VmcsField.GuestFsBase, (flags & CloneSetTls) != 0 ? tls : parent.Vmcs.Read(VmcsField.GuestFsBase));
        vcpu.Vmcs.Write(VmcsField.GuestGsBase, parent.Vmcs.Read(VmcsField.GuestGsBase));
        CopyFloatingPointState(parent, vcpu);
        var thread = new LinuxThread(tid, vcpu, isMain: false)
        {
            ClearChildTid = (flags & CloneChildClearTid) != 0 ? childTid : 0,
            TlbGeneration = _addressSpaceGeneration,
        };
        Kernel.InheritSignalState(_current.Tid, tid);
        _threads.Add(thread);
        new Thread(() => RunThread(thread)) { IsBackground = true, Name = $"guest thread {tid}" }.Start();
        return tid;
    }

    private bool WriteTid(ulong address, int tid)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, tid);
        return Memory.TryWrite(address, b);
    }

    /// <summary>A new thread starts with its creator's x87/SSE state, as Linux copies it on clone.</summary>
    private static void CopyFloatingPointState(VCpu from, VCpu to)
    {
        Span<byte> image = stackalloc byte[512];
        from.Processor.WriteFxsaveImage(image, from.Processor.Mxcsr, wide: true);
        to.Processor.ReadFxsaveImage(image);
        to.Processor.ReadX87Pointers(image, wide: true);
        to.Processor.Mxcsr = from.Processor.Mxcsr;
    }

    bool IThreadHost.ExitThread(int status)
    {
        var thread = _current;
        int alive = 0;
        foreach (var t in _threads)
            if (t.ExitCode is null && !t.Finished.IsSet) alive++;
        if (alive <= 1) return true;
        thread.ExitCode = status & 0xFF;
        Kernel.ForgetThread(thread.Tid);
        // CLONE_CHILD_CLEARTID: what pthread_join waits for.
        if (thread.ClearChildTid != 0 && WriteTid(thread.ClearChildTid, 0)) _futexes.Wake(thread.ClearChildTid, 1, FutexBitsetMatchAny);
        return false;
    }

    long IThreadHost.SetTidAddress(ulong address)
    {
        _current.ClearChildTid = address;
        return _current.Tid;
    }

    long IThreadHost.Yield()
    {
        YieldProcessor();
        return 0;
    }

    /// <summary>Lets every thread that waits for the processor run first.</summary>
    private void YieldProcessor()
    {
        var thread = _current;
        _scheduler.Release(thread);
        if (!_scheduler.Acquire(thread)) throw new ProcessEndingException();
        _current = thread;
    }

    long IThreadHost.WithoutProcessor(Func<long> hostCall)
    {
        var thread = _current;
        _scheduler.Release(thread);
        long result = hostCall();
        if (!_scheduler.Acquire(thread)) throw new ProcessEndingException();
        _current = thread;
        return result;
    }

    bool IThreadHost.Block(TimeSpan duration)
    {
        // Ends early when a signal for this thread arrives (or spuriously): the caller checks and sleeps again if need be.
        var thread = _current;
        thread.Interrupted = false;
        _scheduler.Release(thread);
        thread.WakeSignal.Wait(duration);
        if (!_scheduler.Acquire(thread)) return false;
        _current = thread;
        return true;
    }

    bool IThreadHost.HasOtherThreads
    {
        get
        {
            foreach (var t in _threads)
                if (t != _current && t.ExitCode is null && !t.Finished.IsSet) return true;
            return false;
        }
    }

    bool IThreadHost.IsThread(int tid)
    {
        foreach (var t in _threads)
            if (t.Tid == tid && t.ExitCode is null && !t.Finished.IsSet) return true;
        return false;
    }

    void IThreadHost.Interrupt(int tid)
    {
        foreach (var t in _threads)
        {
            if (t.Tid != tid) continue;
            t.Interrupted = true;
            t.WakeSignal.Release();
        }
    }

    long IThreadHost.Futex(ulong address, int operation, uint value, ulong timeout, ulong address2, uint value3)
    {
        int command = operation & 0x7F;
        switch (command)
        {
            case FutexWait:
                return WaitOnFutex(address, value, timeout, absolute: false, realtime: false, FutexBitsetMatchAny);
            case FutexWaitBitset:
                return value3 == 0 ? -Errno.EINVAL : WaitOnFutex(address, value, timeout, absolute: true, (operation & FutexClockRealtime) != 0, value3);
            case FutexWake:
                return _futexes.Wake(address, (int)Math.Min(value, int.MaxValue), FutexBitsetMatchAny);
            case FutexWakeBitset:
                return value3 == 0 ? -Errno.EINVAL : _futexes.Wake(address, (int)Math.Min(value, int.MaxValue), value3);
            case FutexRequeue:
            case FutexCmpRequeue:
            {
                if (command == FutexCmpRequeue)
                {
                    if (!TryReadFutexWord(address, out uint current)) return -Errno.EFAULT;
                    if (current != value3) return -Errno.EAGAIN;
                }
                // The requeue count travels in the timeout argument.
                return _futexes.Requeue(address, (int)Math.Min(value, int.MaxValue), (int)Math.Min(timeout, int.MaxValue), address2);
            }
            default:
                return -Errno.ENOSYS; // priority-inheritance futexes and FUTEX_WAKE_OP
        }
    }

    private bool TryReadFutexWord(ulong address, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = (address & 3) == 0 && Memory.TryRead(address, b);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return ok;
    }

    /// <summary>
    /// FUTEX_WAIT (relative timeout, CLOCK_MONOTONIC) and FUTEX_WAIT_BITSET (absolute, CLOCK_MONOTONIC or
    /// CLOCK_REALTIME): sleeps without the processor until woken or timed out, if the word still holds <paramref name="value"/>.
    /// </summary>
    private long WaitOnFutex(ulong address, uint value, ulong timeout, bool absolute, bool realtime, uint bitset)
    {
        if ((address & 3) != 0) return -Errno.EINVAL;
        if (!TryReadFutexWord(address, out uint current)) return -Errno.EFAULT;
        if (current != value) return -Errno.EAGAIN;
        var wait = Timeout.InfiniteTimeSpan;
        if (timeout != 0)
        {
            Span<byte> ts = stackalloc byte[16];
            if (!Memory.TryRead(timeout, ts)) return -Errno.EFAULT;
            long s = BinaryPrimitives.ReadInt64LittleEndian(ts), ns = BinaryPrimitives.ReadInt64LittleEndian(ts[8..]);
            if (s < 0 || ns is < 0 or >= 1_000_000_000) return -Errno.EINVAL;
            long nanoseconds = Math.Min(s, 1L << 30) * 1_000_000_000 + ns;
            if (absolute)
            {
                var (nowS, nowNs) = realtime ? LinuxKernel.Realtime() : LinuxKernel.Monotonic();
                nanoseconds -= nowS * 1_000_000_000 + nowNs;
                if (nanoseconds <= 0) return -Errno.ETIMEDOUT;
            }
            wait = TimeSpan.FromTicks(Math.Max(1, nanoseconds / 100));
        }
        var thread = _current;
        long deadline = wait == Timeout.InfiniteTimeSpan ? long.MaxValue : Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
        _futexes.Enqueue(thread, address, bitset);
        thread.Interrupted = false;
        while (true)
        {
            _scheduler.Release(thread);
            long left = deadline == long.MaxValue ? -1 : Math.Max(0, deadline - Stopwatch.GetTimestamp());
            thread.WakeSignal.Wait(left < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency));
            if (!_scheduler.Acquire(thread)) throw new ProcessEndingException();
            _current = thread;
            // Decided under the processor, where wakers set these: a release that matches none of them was spurious.
            if (thread.FutexWoken) return 0;
            if (thread.Interrupted || Stopwatch.GetTimestamp() >= deadline)
            {
                _futexes.Remove(thread);
                return thread.Interrupted ? -Errno.EINTR : -Errno.ETIMEDOUT;
            }
        }
    }

    /// <summary>Page tables changed since this thread's vCPU last flushed its TLB: writing GUEST_CR3 flushes it at the next entry.</summary>
    private void FlushTlb(LinuxThread thread)
    {
        thread.VCpu.Vmcs.Write(VmcsField.GuestCr3, Memory.Root);
        thread.TlbGeneration = _addressSpaceGeneration;
    }

    /// <summary>Called on every resumed exit: flushes a stale TLB and says when the running thread's time slice ends.</summary>
    private long PrepareToResume()
    {
        if (Memory.TlbFlushNeeded)
        {
            Memory.TlbFlushNeeded = false;
            _addressSpaceGeneration++;
        }
        if (_current.TlbGeneration != _addressSpaceGeneration) FlushTlb(_current);
        // Whenever another thread lives, even a sleeping one: it may become ready while this one spins without a system
        // call, and only the end of the slice would let it run.
        _sliceDeadline = _threads.Count > 1 && ((IThreadHost)this).HasOtherThreads ? Stopwatch.GetTimestamp() + TimeSliceTicks : long.MaxValue;
        return _sliceDeadline;
    }
}
