namespace Dispatch.Linux.Threads;

/// <summary>
/// What the kernel asks of the process for the calls that concern threads and the processor: creating and ending threads,
/// futexes, yielding, and giving the processor up while a call waits on the host.
/// </summary>
internal interface IThreadHost
{
    /// <summary>The calling thread's ID (gettid).</summary>
    int CurrentTid { get; }

    /// <summary>
    /// The caller's RSP at the system call (sigaltstack needs to know whether it runs on the alternate stack). Asked only
    /// when needed: reading a guest-state field ends the VMCS's deferred save of the guest state.
    /// </summary>
    ulong UserStackPointer { get; }

    long Clone(ulong flags, ulong stack, ulong parentTid, ulong childTid, ulong tls);

    /// <summary>exit(2): ends the calling thread; the last one ends the process (true).</summary>
    bool ExitThread(int status);

    long Futex(ulong address, int operation, uint value, ulong timeout, ulong address2, uint value3);

    long SetTidAddress(ulong address);

    /// <summary>Whether a thread other than the caller is alive (and might send it a signal).</summary>
    bool HasOtherThreads { get; }

    /// <summary>Whether <paramref name="tid"/> is a live thread of the process.</summary>
    bool IsThread(int tid);

    /// <summary>A signal arrived for <paramref name="tid"/>: it stops waiting (the wait returns EINTR) to take it.</summary>
    void Interrupt(int tid);

    long Yield();

    /// <summary>
    /// Makes a host call that may block (a read from a pipe or a terminal, a poll) without the processor, so that the
    /// other threads run meanwhile; throws <see cref="ProcessEndingException"/> when the process ended meanwhile.
    /// </summary>
    long WithoutProcessor(Func<long> hostCall);

    /// <summary>
    /// Sleeps for <paramref name="duration"/> without the processor, so that the other threads run; false when the
    /// process ended meanwhile.
    /// </summary>
    bool Block(TimeSpan duration);
}
