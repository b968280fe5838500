using System.Buffers.Binary;
using System.Numerics;
using Dispatch.Linux.Signals;

namespace Dispatch.Linux;

/// <summary>
/// Signal dispositions, the blocked mask, pending signals and the alternate stack. The kernel decides which signal is due;
/// <see cref="LinuxProcess"/> delivers it (builds the frame on the user stack and enters the handler) because that needs
/// the vCPU. Signals come from the process itself (kill, tgkill, raise, abort) or from its faults.
/// </summary>
public sealed partial class LinuxKernel
{
    private readonly SignalAction[] _signalActions = new SignalAction[Signal.Max + 1];
    private readonly SignalInfo[] _pendingInfo = new SignalInfo[Signal.Max + 1];
    private ulong _pendingSignals;
    private readonly Dictionary<int, ThreadSignals> _threadSignals = [];

    /// <summary>What Linux keeps per thread: the blocked mask, the signals sent to the thread, the alternate stack.</summary>
    private sealed class ThreadSignals
    {
        public ulong Mask, Pending;
        public readonly SignalInfo[] PendingInfo = new SignalInfo[Signal.Max + 1];
        public ulong? MaskToRestore;
        public ulong AltStackBase, AltStackSize;
        public bool AltStackEnabled;
    }

    private ThreadSignals SignalsOf(int tid)
    {
        if (!_threadSignals.TryGetValue(tid, out var state)) _threadSignals[tid] = state = new ThreadSignals();
        return state;
    }

    // The last thread asked about: every system call asks, and the running thread changes far less often.
    private int _cachedTid = int.MinValue;
    private ThreadSignals? _cachedSignals;

    private ThreadSignals CurrentSignals
    {
        get
        {
            int tid = CurrentTid;
            if (tid != _cachedTid)
            {
                _cachedSignals = SignalsOf(tid);
                _cachedTid = tid;
            }
            return _cachedSignals!;
        }
    }

    /// <summary>clone: the new thread starts with its creator's mask and without an alternate stack (CLONE_VM).</summary>
    internal void InheritSignalState(int parentTid, int childTid)
    {
        _threadSignals[childTid] = new ThreadSignals { Mask = SignalsOf(parentTid).Mask };
        if (_cachedTid == childTid) _cachedTid = int.MinValue;
    }

    /// <summary>A thread that exited takes its signal state (and what was pending for it alone) with it.</summary>
    internal void ForgetThread(int tid)
    {
        _threadSignals.Remove(tid);
        if (_cachedTid == tid) _cachedTid = int.MinValue;
    }

    /// <summary>The blocked signals; SIGKILL and SIGSTOP are never blocked.</summary>
    internal ulong SignalMask
    {
        get => CurrentSignals.Mask;
        set => CurrentSignals.Mask = value & ~Signal.Unblockable;
    }

    internal SignalAction ActionOf(int signal) => _signalActions[signal];

    /// <summary>SA_RESETHAND: the disposition returns to the default once the handler is entered.</summary>
    internal void ResetAction(int signal) => _signalActions[signal] = default;

    /// <summary>The alternate signal stack's top when one is enabled and <paramref name="sp"/> is not already on it.</summary>
    internal ulong? AlternateStackTop(ulong sp) =>
        CurrentSignals.AltStackEnabled && !IsOnAlternateStack(sp) ? CurrentSignals.AltStackBase + CurrentSignals.AltStackSize : null;

    /// <summary>The alternate stack as a signal frame's uc_stack records it: base, ss_flags (for <paramref name="sp"/>), size.</summary>
    internal (ulong Base, int Flags, ulong Size) AlternateStack(ulong sp) =>
        (CurrentSignals.AltStackBase, !CurrentSignals.AltStackEnabled ? Signal.SsDisable : IsOnAlternateStack(sp) ? Signal.SsOnStack : 0, CurrentSignals.AltStackSize);

    private bool IsOnAlternateStack(ulong sp) => CurrentSignals.AltStackEnabled && sp > CurrentSignals.AltStackBase && sp <= CurrentSignals.AltStackBase + CurrentSignals.AltStackSize;

    /// <summary>
    /// A fault the process cannot go on from: whether its signal has a handler that may run now. If not (no handler,
    /// ignored or blocked), the process ends as Linux ends it, with 128 + signal.
    /// </summary>
    internal bool CanHandleFault(int signal)
    {
        var action = _signalActions[signal];
        return action.HasHandler && (CurrentSignals.Mask & Signal.Bit(signal)) == 0;
    }

    /// <summary>
    /// The next pending, unblocked signal that has a handler, taken off the pending set. Pending signals whose action is
    /// the default are acted on first: ignored, or ending the process (then null is returned and <see cref="ExitStatus"/> set).
    /// </summary>
    internal SignalInfo? TakeDeliverableSignal()
    {
        if ((_pendingSignals | CurrentSignals.Pending) == 0) return null; // what nearly every system call finds
        ApplyDefaultActions();
        if (ExitStatus is not null) return null;
        var current = CurrentSignals;
        ulong ready = (_pendingSignals | current.Pending) & ~current.Mask;
        if (ready == 0) return null;
        int signal = BitOperations.TrailingZeroCount(ready) + 1;
        ulong bit = Signal.Bit(signal);
        if ((current.Pending & bit) != 0)
        {
            current.Pending &= ~bit;
            return current.PendingInfo[signal];
        }
        _pendingSignals &= ~bit;
        return _pendingInfo[signal];
    }

    private int CurrentTid => Threads.CurrentTid;

    /// <summary>What is pending for the calling thread: the process's signals and its own.</summary>
    private ulong PendingForCurrent => _pendingSignals | CurrentSignals.Pending;

    private static bool IsIgnored(int signal, SignalAction action) =>
        signal != Signal.Kill && (action.Handler == Signal.Ignore || (action.Handler == Signal.Default && Signal.IgnoredByDefault(signal)));

    /// <summary>Ends the process as a fatal signal does: status 128 + signal.</summary>
    internal void TerminateBySignal(int signal, string? message = null)
    {
        TerminationMessage = message ?? $"terminated by signal {signal}";
        ExitStatus = 128 + signal;
    }

    private void Raise(SignalInfo info)
    {
        int signal = info.Number;
        if (IsIgnored(signal, _signalActions[signal])) return; // discarded at once, even while blocked, as Linux does
        _pendingSignals |= Signal.Bit(signal);
        _pendingInfo[signal] = info;
        ApplyDefaultActions();
    }

    /// <summary>A signal for one thread: it takes it at its next system-call return, woken from a wait for it.</summary>
    private void RaiseForThread(int tid, SignalInfo info)
    {
        int signal = info.Number;
        var action = _signalActions[signal];
        if (IsIgnored(signal, action)) return;
        // A fatal default action ends the whole process, whichever thread the signal was sent to.
        if ((signal == Signal.Kill || !action.HasHandler) && (SignalsOf(tid).Mask & Signal.Bit(signal)) == 0)
        {
            TerminateBySignal(signal);
            return;
        }
        var target = SignalsOf(tid);
        target.Pending |= Signal.Bit(signal);
        target.PendingInfo[signal] = info;
        if (tid != CurrentTid) Threads.Interrupt(tid);
    }

    /// <summary>Acts on every pending, unblocked signal whose action is the default: a fatal one ends the process.</summary>
    private void ApplyDefaultActions()
    {
        ulong ready = PendingForCurrent & ~CurrentSignals.Mask;
        while (ready != 0 && ExitStatus is null)
        {
            int signal = BitOperations.TrailingZeroCount(ready) + 1;
            ready &= ready - 1;
            var action = _signalActions[signal];
            if (signal != Signal.Kill && action.HasHandler) continue;
            _pendingSignals &= ~Signal.Bit(signal);
            CurrentSignals.Pending &= ~Signal.Bit(signal);
            if (signal == Signal.Kill || !Signal.IgnoredByDefault(signal)) TerminateBySignal(signal);
        }
    }

    private long SigAction(int signal, ulong action, ulong oldAction, ulong setSize)
    {
        if (signal is < 1 or > Signal.Max || (signal is Signal.Kill or Signal.Stop && action != 0) || setSize != 8) return -Errno.EINVAL;
        Span<byte> b = stackalloc byte[SignalAction.Size];
        if (oldAction != 0)
        {
            _signalActions[signal].Write(b);
            if (!_memory.TryWrite(oldAction, b)) return -Errno.EFAULT;
        }
        if (action != 0)
        {
            if (!_memory.TryRead(action, b)) return -Errno.EFAULT;
            var a = SignalAction.Read(b);
            _signalActions[signal] = a with { Mask = a.Mask & ~Signal.Unblockable };
            // Setting a disposition to ignore discards a pending instance.
            if (IsIgnored(signal, a))
            {
                _pendingSignals &= ~Signal.Bit(signal);
                foreach (var state in _threadSignals.Values) state.Pending &= ~Signal.Bit(signal);
            }
        }
        return 0;
    }

    private long SigProcMask(int how, ulong set, ulong oldSet, ulong setSize)
    {
        if (setSize != 8) return -Errno.EINVAL;
        ulong previous = CurrentSignals.Mask;
        if (set != 0)
        {
            if (!_memory.TryReadUInt64(set, out ulong s)) return -Errno.EFAULT;
            switch (how)
            {
                case 0: SignalMask = CurrentSignals.Mask | s; break; // SIG_BLOCK
                case 1: SignalMask = CurrentSignals.Mask & ~s; break; // SIG_UNBLOCK
                case 2: SignalMask = s; break; // SIG_SETMASK
                default: return -Errno.EINVAL;
            }
        }
        if (oldSet != 0 && !_memory.TryWriteUInt64(oldSet, previous)) return -Errno.EFAULT;
        ApplyDefaultActions();
        return 0;
    }

    private long SigPending(ulong set, ulong setSize)
    {
        if (setSize != 8) return -Errno.EINVAL;
        return _memory.TryWriteUInt64(set, PendingForCurrent & CurrentSignals.Mask) ? 0 : -Errno.EFAULT;
    }

    /// <summary>sigaltstack(2): stack_t is ss_sp (8), ss_flags (4, padded to 8), ss_size (8).</summary>
    private long SigAltStack(ulong stack, ulong oldStack, ulong currentSp)
    {
        Span<byte> b = stackalloc byte[24];
        if (oldStack != 0)
        {
            b.Clear();
            var (altBase, altFlags, altSize) = AlternateStack(currentSp);
            BinaryPrimitives.WriteUInt64LittleEndian(b, altBase);
            BinaryPrimitives.WriteInt32LittleEndian(b[8..], altFlags);
            BinaryPrimitives.WriteUInt64LittleEndian(b[16..], altSize);
            if (!_memory.TryWrite(oldStack, b)) return -Errno.EFAULT;
        }
        if (stack != 0)
        {
            if (!_memory.TryRead(stack, b)) return -Errno.EFAULT;
            if (IsOnAlternateStack(currentSp)) return -Errno.EPERM;
            int flags = BinaryPrimitives.ReadInt32LittleEndian(b[8..]);
            if ((flags & ~Signal.SsDisable & ~unchecked((int)0x8000_0000)) != 0) return -Errno.EINVAL; // SS_AUTODISARM is accepted
            if ((flags & Signal.SsDisable) != 0)
            {
                CurrentSignals.AltStackEnabled = false;
                CurrentSignals.AltStackBase = CurrentSignals.AltStackSize = 0;
                return 0;
            }
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(b[16..]);
            if (size < 2048) return -Errno.ENOMEM; // MINSIGSTKSZ
            CurrentSignals.AltStackBase = BinaryPrimitives.ReadUInt64LittleEndian(b);
            CurrentSignals.AltStackSize = size;
            CurrentSignals.AltStackEnabled = true;
        }
        return 0;
    }

    /// <summary>tgkill and tkill: a signal for one of the process's threads.</summary>
    private long KillThread(int tid, int signal)
    {
        if (signal is < 0 or > Signal.Max) return -Errno.EINVAL;
        if (!Threads.IsThread(tid)) return -Errno.ESRCH;
        if (signal == 0) return 0;
        var info = new SignalInfo(signal, Signal.SiTkill, SenderPid: ProcessId, SenderUid: HostLibc.getuid());
        RaiseForThread(tid, info);
        return 0;
    }

    /// <summary>kill: only the process itself (pid 0 or -1 mean it too) can be reached.</summary>
    private long Kill(int pid, int signal, int code)
    {
        if (pid != ProcessId && pid != 0 && pid != -1) return -Errno.ESRCH;
        if (signal is < 0 or > Signal.Max) return -Errno.EINVAL;
        if (signal == 0) return 0;
        Raise(new SignalInfo(signal, code, SenderPid: ProcessId, SenderUid: HostLibc.getuid()));
        return 0;
    }
}
