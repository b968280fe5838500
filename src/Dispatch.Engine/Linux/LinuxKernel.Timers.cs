using System.Buffers.Binary;
using System.Diagnostics;
using Dispatch.Linux.Signals;
using Dispatch.Linux.Threads;

namespace Dispatch.Linux;

/// <summary>
/// The real-time interval timer (alarm, setitimer/getitimer ITIMER_REAL) and the calls that wait for a signal (pause,
/// rt_sigsuspend) or may be cut short by one (nanosleep, clock_nanosleep). The timer is wall-clock time; the process
/// arms the VMX-preemption timer from <see cref="TimerDeadline"/> so that a guest that never makes a system call is
/// still interrupted when it expires.
/// </summary>
public sealed partial class LinuxKernel
{
    private const int ItimerReal = 0;
    private long _timerDeadline = long.MaxValue; // Stopwatch timestamp
    private long _timerIntervalTicks;

    /// <summary>When the real-time timer expires (a Stopwatch timestamp), while it is armed.</summary>
    public long? TimerDeadline => _timerDeadline == long.MaxValue ? null : _timerDeadline;

    /// <summary>
    /// Raises SIGALRM if the real-time timer has expired, and re-arms a periodic one. True if it fired.
    /// </summary>
    public bool FireTimerIfDue()
    {
        long now = Stopwatch.GetTimestamp();
        if (now < _timerDeadline) return false;
        _timerDeadline = _timerIntervalTicks > 0 ? Math.Max(now, _timerDeadline + _timerIntervalTicks) : long.MaxValue;
        Raise(new SignalInfo(Signal.Alarm, Signal.SiKernel));
        return true;
    }

    /// <summary>
    /// The mask rt_sigsuspend replaced, to be saved in the frame of the signal that ends the wait (and restored by its
    /// rt_sigreturn) instead of the temporary one; null otherwise. Taking it clears it.
    /// </summary>
    internal ulong? TakeMaskToRestore()
    {
        var mask = CurrentSignals.MaskToRestore;
        CurrentSignals.MaskToRestore = null;
        return mask;
    }

    private static long TicksFromNanoseconds(long ns) => (long)(ns * (Stopwatch.Frequency / 1e9));

    private static long NanosecondsFromTicks(long ticks) => (long)(ticks * (1e9 / Stopwatch.Frequency));

    private long RemainingNanoseconds() =>
        _timerDeadline == long.MaxValue ? 0 : Math.Max(1, NanosecondsFromTicks(_timerDeadline - Stopwatch.GetTimestamp()));

    private void ArmTimer(long valueNs, long intervalNs)
    {
        _timerDeadline = valueNs == 0 ? long.MaxValue : Stopwatch.GetTimestamp() + TicksFromNanoseconds(valueNs);
        _timerIntervalTicks = valueNs == 0 ? 0 : TicksFromNanoseconds(intervalNs);
    }

    /// <summary>alarm(2): the seconds left on the previous timer, rounded as Linux rounds them.</summary>
    private long Alarm(ulong seconds)
    {
        long left = RemainingNanoseconds();
        ArmTimer((long)Math.Min(seconds, int.MaxValue) * 1_000_000_000, 0);
        return left == 0 ? 0 : Math.Max(1, (left + 500_000_000) / 1_000_000_000);
    }

    /// <summary>setitimer(2) for ITIMER_REAL; struct itimerval is it_interval then it_value, each a struct timeval.</summary>
    private long SetTimer(int which, ulong value, ulong oldValue)
    {
        if (which != ItimerReal) return -Errno.EINVAL;
        Span<byte> b = stackalloc byte[32];
        if (value != 0 && !_memory.TryRead(value, b)) return -Errno.EFAULT;
        if (oldValue != 0)
        {
            long r = GetTimer(which, oldValue);
            if (r != 0) return r;
        }
        if (value == 0) return 0;
        long intervalNs = TimevalNanoseconds(b), valueNs = TimevalNanoseconds(b[16..]);
        if (intervalNs < 0 || valueNs < 0) return -Errno.EINVAL;
        ArmTimer(valueNs, intervalNs);
        return 0;
    }

    private long GetTimer(int which, ulong current)
    {
        if (which != ItimerReal) return -Errno.EINVAL;
        Span<byte> b = stackalloc byte[32];
        b.Clear();
        long intervalNs = NanosecondsFromTicks(_timerIntervalTicks), left = RemainingNanoseconds();
        BinaryPrimitives.WriteInt64LittleEndian(b, intervalNs / 1_000_000_000);
        BinaryPrimitives.WriteInt64LittleEndian(b[8..], intervalNs % 1_000_000_000 / 1000);
        BinaryPrimitives.WriteInt64LittleEndian(b[16..], left / 1_000_000_000);
        BinaryPrimitives.WriteInt64LittleEndian(b[24..], left % 1_000_000_000 / 1000);
        return _memory.TryWrite(current, b) ? 0 : -Errno.EFAULT;
    }

    /// <summary>A struct timeval in nanoseconds; -1 if its microseconds are out of range.</summary>
    private static long TimevalNanoseconds(ReadOnlySpan<byte> b)
    {
        long s = BinaryPrimitives.ReadInt64LittleEndian(b), us = BinaryPrimitives.ReadInt64LittleEndian(b[8..]);
        if (s < 0 || us is < 0 or >= 1_000_000) return -1;
        return Math.Min(s, int.MaxValue) * 1_000_000_000 + us * 1000;
    }

    /// <summary>Whether a signal is pending that a handler will take or that ends the process: what ends a wait.</summary>
    private bool SignalInterrupts()
    {
        ApplyDefaultActions();
        return ExitStatus is not null || (PendingForCurrent & ~CurrentSignals.Mask) != 0;
    }

    /// <summary>
    /// Sleeps until <paramref name="deadline"/> (a Stopwatch timestamp) or until a signal interrupts: the timer firing is
    /// the only signal that can arrive while the process waits. True if a signal cut the sleep short.
    /// </summary>
    private bool SleepUntil(long deadline)
    {
        while (true)
        {
            FireTimerIfDue();
            if (SignalInterrupts()) return true;
            long now = Stopwatch.GetTimestamp();
            if (now >= deadline) return false;
            long until = Math.Min(deadline, _timerDeadline);
            var duration = until == long.MaxValue ? Timeout.InfiniteTimeSpan
                : TimeSpan.FromMilliseconds(Math.Min(Math.Ceiling((until - now) * 1000.0 / Stopwatch.Frequency), int.MaxValue));
            // Other threads run meanwhile; a process that ends during the sleep ends it.
            if (!Threads.Block(duration)) throw new ProcessEndingException();
        }
    }

    /// <summary>pause(2) and rt_sigsuspend(2): wait for a signal; -EINTR once one is due.</summary>
    private long WaitForSignal()
    {
        if (!SignalInterrupts() && _timerDeadline == long.MaxValue && !Threads.HasOtherThreads)
        {
            TerminationMessage = "the process waits for a signal, but no timer is armed and nothing else can send one";
            ExitStatus = 128 + Signal.Kill;
            return -Errno.EINTR;
        }
        SleepUntil(long.MaxValue);
        return -Errno.EINTR;
    }

    /// <summary>rt_sigsuspend: waits with a temporary mask; the handler that ends the wait returns to the original one.</summary>
    private long SigSuspend(ulong mask, ulong setSize) => setSize != 8 ? -Errno.EINVAL : WithTemporaryMask(mask, WaitForSignal);

    /// <summary>nanosleep and relative clock_nanosleep: -EINTR with the time left when a signal cuts the sleep short.</summary>
    private long Sleep(long nanoseconds, ulong remaining)
    {
        long start = Stopwatch.GetTimestamp(), deadline = start + TicksFromNanoseconds(nanoseconds);
        if (!SleepUntil(deadline)) return 0;
        if (remaining != 0)
        {
            long left = Math.Max(0, NanosecondsFromTicks(deadline - Stopwatch.GetTimestamp()));
            if (!WritePair(remaining, left / 1_000_000_000, left % 1_000_000_000)) return -Errno.EFAULT;
        }
        return -Errno.EINTR;
    }
}
