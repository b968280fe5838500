namespace Dispatch.Linux.Threads;

/// <summary>One thread of the process: a vCPU of the process's machine, sharing its address space, files and signals.</summary>
public sealed class LinuxThread
{
    internal LinuxThread(int tid, VCpu vcpu, bool isMain)
    {
        Tid = tid;
        VCpu = vcpu;
        IsMain = isMain;
    }

    public int Tid { get; }

    public VCpu VCpu { get; }

    /// <summary>The thread the process started with (its TID is the PID).</summary>
    public bool IsMain { get; }

    /// <summary>CLONE_CHILD_CLEARTID or set_tid_address: zeroed and futex-woken when the thread exits (pthread_join waits on it).</summary>
    internal ulong ClearChildTid { get; set; }

    /// <summary>Set by exit(2): this thread is over, the others go on.</summary>
    internal int? ExitCode { get; set; }

    /// <summary>The address-space generation this vCPU's TLB was last flushed for.</summary>
    internal long TlbGeneration { get; set; }

    /// <summary>Signalled when the host thread running this vCPU has finished.</summary>
    internal ManualResetEventSlim Finished { get; } = new(false);

    // Wait state, guarded by the processor (only the thread holding it reads or changes it).
    internal ulong FutexAddress;
    internal uint FutexBitset;
    internal bool FutexWoken;
    /// <summary>A signal for this thread arrived while it waited: the wait ends with EINTR.</summary>
    internal bool Interrupted;

    /// <summary>Released to end a wait early (a futex wake, a signal, the end of the process); spurious releases are harmless.</summary>
    internal readonly SemaphoreSlim WakeSignal = new(0);
}
