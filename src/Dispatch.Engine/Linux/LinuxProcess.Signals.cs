using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using Dispatch.Guests;
using Dispatch.Linux.Signals;
using Dispatch.Linux.Threads;
using Dispatch.Vmx;

namespace Dispatch.Linux;

/// <summary>
/// Signal delivery as Linux does it on x86-64 (arch/x86/kernel/signal.c, signal_64.c): the interrupted context is saved
/// in an rt_sigframe on the user stack (or the alternate stack), the handler is entered with (signal, &amp;siginfo,
/// &amp;ucontext), and its return through sa_restorer's rt_sigreturn restores the context, the mask and the x87/SSE state.
/// </summary>
public sealed partial class LinuxProcess
{
    // struct rt_sigframe: the return address (sa_restorer), struct ucontext (304 bytes), struct siginfo (128 bytes).
    private const int FrameSize = 8 + UcontextSize + SiginfoSize;
    private const int UcontextSize = 304, SiginfoSize = 128, FpStateSize = 512;
    private const int UcOffset = 8, InfoOffset = UcOffset + UcontextSize;
    // Within struct ucontext: uc_flags, uc_link, uc_stack (ss_sp, ss_flags, ss_size), uc_mcontext, uc_sigmask.
    private const int UcStack = 16, UcMcontext = 40, UcSigmask = 296;
    // Within struct sigcontext (uc_mcontext): 18 registers, then cs/gs/fs/ss, err, trapno, oldmask, cr2, fpstate.
    private const int ScRip = 16 * 8, ScEflags = 17 * 8, ScSegments = 18 * 8, ScErr = 19 * 8, ScTrapno = 20 * 8,
        ScOldmask = 21 * 8, ScCr2 = 22 * 8, ScFpstate = 23 * 8;
    // uc_flags: UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, as Linux sets them for 64-bit frames.
    private const ulong UcFlags = 0x2 | 0x4;
    private const int RedZone = 128;
    // RFLAGS bits sigreturn takes from the frame (FIX_EFLAGS); the rest stay as user mode has them (IF and bit 1 set).
    private const ulong RestorableFlags = Rflags.CF | Rflags.PF | Rflags.AF | Rflags.ZF | Rflags.SF | Rflags.TF | Rflags.DF
        | Rflags.OF | Rflags.RF | Rflags.AC;
    private const ulong UserFlags = 0x202;

    /// <summary>sigcontext's register slots in order (r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp), as GPR numbers.</summary>
    private static ReadOnlySpan<byte> SigcontextRegisters => [8, 9, 10, 11, 12, 13, 14, 15, 7, 6, 5, 3, 2, 0, 1, 4];

    /// <summary>The user context a signal interrupts: registers (RSP included), RIP, RFLAGS, and what the trap was.</summary>
    private struct UserContext
    {
        public GuestRegisters Registers;
        public ulong Rip, Rflags;
        public ulong TrapNumber, ErrorCode, FaultAddress;
    }

    /// <summary>
    /// The fault's signal, when <paramref name="vector"/> is one Linux turns into a signal a handler may catch; the
    /// process's handler runs if it has one and the signal is not blocked.
    /// </summary>
    private SignalInfo? FaultSignal(byte vector, ulong rip, ulong faultAddress, uint mxcsr, ushort fpuStatus, ushort fpuControl) => vector switch
    {
        ExceptionVector.DivideError => new SignalInfo(Signal.Fpe, Signal.FpeIntDiv, rip),
        ExceptionVector.Breakpoint => new SignalInfo(Signal.Trap, Signal.SiKernel),
        ExceptionVector.InvalidOpcode => new SignalInfo(Signal.Ill, Signal.IllIllegalOpcode, rip),
        // Linux tells the two apart by whether a mapping covers the address, not by the page-fault error code.
        ExceptionVector.PageFault => new SignalInfo(Signal.Segv, Memory.FindArea(faultAddress) is null ? Signal.SegvMapErr : Signal.SegvAccErr, faultAddress),
        ExceptionVector.GeneralProtection or ExceptionVector.StackFault => new SignalInfo(Signal.Segv, Signal.SiKernel),
        ExceptionVector.AlignmentCheck => new SignalInfo(Signal.Bus, Signal.BusAdrAln, faultAddress),
        ExceptionVector.FloatingPointError => new SignalInfo(Signal.Fpe, FloatingPointCode((uint)(fpuStatus & ~fpuControl & 0x3F)), rip),
        ExceptionVector.SimdFloatingPoint => new SignalInfo(Signal.Fpe, FloatingPointCode(mxcsr & ~(mxcsr >> 7) & 0x3F), rip),
        _ => null,
    };

    /// <summary>si_code of an x87 or SIMD floating-point exception from its unmasked flags, in Linux's order of precedence.</summary>
    private static int FloatingPointCode(uint unmasked) =>
        (unmasked & 0x01) != 0 ? Signal.FpeFltInv
        : (unmasked & 0x04) != 0 ? Signal.FpeFltDiv
        : (unmasked & 0x08) != 0 ? Signal.FpeFltOvf
        : (unmasked & 0x12) != 0 ? Signal.FpeFltUnd
        : (unmasked & 0x20) != 0 ? Signal.FpeFltRes
        : 0;

    /// <summary>
    /// An exception in user code that a signal handler may take: delivers it and resumes in the handler. False when the
    /// process has no handler for it (or blocks it): Linux then ends the process, as the caller does.
    /// </summary>
    private bool TryDeliverFault(ref ExitContext context, InterruptionInfo info, out ExitAction action)
    {
        action = ExitAction.Stop;
        var p = context.VCpu.Processor;
        ulong rip = context.GuestRip;
        var signal = FaultSignal(info.Vector, rip, context.ExitQualification, p.Mxcsr, p.FpuStatusWord, p.FpuControlWord);
        if (signal is null || !Kernel.CanHandleFault(signal.Value.Number)) return false;
        var user = new UserContext
        {
            Registers = context.Registers,
            // INT3 is a trap: the context resumes after it. Faults resume at the faulting instruction.
            Rip = info.Vector == ExceptionVector.Breakpoint ? rip + (ulong)context.InstructionLength : rip,
            Rflags = context.Vmcs.Read(VmcsField.GuestRflags),
            TrapNumber = info.Vector,
            ErrorCode = info.HasErrorCode ? context.InterruptionErrorCode : 0,
            FaultAddress = info.Vector == ExceptionVector.PageFault ? context.ExitQualification : 0,
        };
        user.Registers.Rsp = context.Vmcs.Read(VmcsField.GuestRsp);
        action = Deliver(ref context, ref user, signal.Value);
        return true;
    }

    /// <summary>
    /// After a system call: the context the call returns to (RIP and RFLAGS that SYSCALL saved in RCX and R11), and the
    /// next signal due to it, if any, delivered. Null when no handler is due and the call returns normally.
    /// </summary>
    private ExitAction? DeliverPendingAfterSystemCall(ref ExitContext context)
    {
        if (Kernel.TakeDeliverableSignal() is not { } signal) return null;
        var user = new UserContext { Registers = context.Registers };
        user.Rip = user.Registers.Rcx;
        user.Rflags = user.Registers.R11;
        user.Registers.Rsp = context.Vmcs.Read(VmcsField.GuestRsp);
        return Deliver(ref context, ref user, signal);
    }

    /// <summary>Builds the signal frame for <paramref name="user"/> and enters the handler of <paramref name="signal"/>.</summary>
    private ExitAction Deliver(ref ExitContext context, ref UserContext user, SignalInfo signal)
    {
        int number = signal.Number;
        var action = Kernel.ActionOf(number);
        if ((action.Flags & Signal.SaRestorer) == 0)
            return TerminateWith(Signal.Segv, $"signal {number} has a handler without SA_RESTORER; Linux x86-64 cannot return from it");

        ulong userSp = user.Registers.Rsp;
        ulong sp = (action.Flags & Signal.SaOnStack) != 0 && Kernel.AlternateStackTop(userSp) is { } top ? top : userSp - RedZone;
        ulong fpState = (sp - FpStateSize) & ~63UL;
        ulong frame = ((fpState - FrameSize) & ~15UL) - 8; // as after a CALL: (RSP + 8) is 16-byte aligned in the handler

        Span<byte> fp = stackalloc byte[FpStateSize];
        fp.Clear();
        var processor = context.VCpu.Processor;
        processor.WriteFxsaveImage(fp, processor.Mxcsr, wide: true);

        Span<byte> f = stackalloc byte[FrameSize];
        f.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(f, action.Restorer);
        var uc = f.Slice(UcOffset, UcontextSize);
        BinaryPrimitives.WriteUInt64LittleEndian(uc, UcFlags);
        var (altBase, altFlags, altSize) = Kernel.AlternateStack(userSp);
        BinaryPrimitives.WriteUInt64LittleEndian(uc[UcStack..], altBase);
        BinaryPrimitives.WriteInt32LittleEndian(uc[(UcStack + 8)..], altFlags);
        BinaryPrimitives.WriteUInt64LittleEndian(uc[(UcStack + 16)..], altSize);
        var sc = uc.Slice(UcMcontext, 256);
        var registers = SigcontextRegisters;
        for (int i = 0; i < registers.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(sc[(8 * i)..], user.Registers[registers[i]]);
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScRip..], user.Rip);
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScEflags..], user.Rflags);
        BinaryPrimitives.WriteUInt16LittleEndian(sc[ScSegments..], LongModeGuest.UserCodeSelector | 3);
        BinaryPrimitives.WriteUInt16LittleEndian(sc[(ScSegments + 6)..], LongModeGuest.UserDataSelector | 3);
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScErr..], user.ErrorCode);
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScTrapno..], user.TrapNumber);
        ulong currentMask = Kernel.SignalMask;
        ulong savedMask = Kernel.TakeMaskToRestore() ?? currentMask; // rt_sigsuspend: the mask from before the wait
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScOldmask..], savedMask);
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScCr2..], user.FaultAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(sc[ScFpstate..], fpState);
        BinaryPrimitives.WriteUInt64LittleEndian(uc[UcSigmask..], savedMask);
        WriteSiginfo(f.Slice(InfoOffset, SiginfoSize), signal);

        if (!Memory.TryWrite(fpState, fp) || !Memory.TryWrite(frame, f))
            return TerminateWith(Signal.Segv, $"signal {number}: the signal frame at 0x{frame:x} cannot be written (stack overflow?)");

        ulong mask = currentMask | action.Mask;
        if ((action.Flags & Signal.SaNoDefer) == 0) mask |= Signal.Bit(number);
        Kernel.SignalMask = mask;
        if ((action.Flags & Signal.SaResetHand) != 0) Kernel.ResetAction(number);

        ref var r = ref context.Registers;
        r = user.Registers;
        r.Rdi = (ulong)number;
        r.Rsi = frame + InfoOffset;
        r.Rdx = frame + UcOffset;
        r.Rax = 0;
        ResetFloatingPointForHandler(processor);
        EnterUserMode(ref context, action.Handler, frame, user.Rflags & ~(Rflags.DF | Rflags.TF | Rflags.RF));
        return ExitAction.Resume;
    }

    /// <summary>
    /// rt_sigreturn: the handler returned into sa_restorer, which made this call with RSP just past the frame's return
    /// address. Restores registers, flags, the mask and the x87/SSE state, then delivers any signal the restored mask lets through.
    /// </summary>
    private ExitAction SignalReturn(ref ExitContext context)
    {
        ulong frame = context.Vmcs.Read(VmcsField.GuestRsp) - 8;
        Span<byte> uc = stackalloc byte[UcontextSize];
        if (!Memory.TryRead(frame + UcOffset, uc))
            return TerminateWith(Signal.Segv, $"rt_sigreturn: no signal frame at 0x{frame:x}");
        var sc = uc.Slice(UcMcontext, 256);
        ulong fpState = BinaryPrimitives.ReadUInt64LittleEndian(sc[ScFpstate..]);
        if (fpState != 0)
        {
            Span<byte> fp = stackalloc byte[FpStateSize];
            uint mxcsr = Memory.TryRead(fpState, fp) ? BinaryPrimitives.ReadUInt32LittleEndian(fp[24..]) : uint.MaxValue;
            if ((mxcsr & ~Execution.Processor.MxcsrMask) != 0)
                return TerminateWith(Signal.Segv, $"rt_sigreturn: bad floating-point state at 0x{fpState:x}");
            var p = context.VCpu.Processor;
            p.ReadFxsaveImage(fp);
            p.ReadX87Pointers(fp, wide: true);
            p.Mxcsr = mxcsr;
        }
        else ResetFloatingPointForHandler(context.VCpu.Processor);

        var user = new UserContext();
        var registers = SigcontextRegisters;
        for (int i = 0; i < registers.Length; i++) user.Registers[registers[i]] = BinaryPrimitives.ReadUInt64LittleEndian(sc[(8 * i)..]);
        user.Rip = BinaryPrimitives.ReadUInt64LittleEndian(sc[ScRip..]);
        user.Rflags = UserFlags | (BinaryPrimitives.ReadUInt64LittleEndian(sc[ScEflags..]) & RestorableFlags);
        Kernel.SignalMask = BinaryPrimitives.ReadUInt64LittleEndian(uc[UcSigmask..]);
        if (!LinearAddress.IsCanonical(user.Rip) || user.Rip >= AddressSpace.UserTop)
            return TerminateWith(Signal.Segv, $"rt_sigreturn: return address 0x{user.Rip:x} is not a user address");

        if (Kernel.TakeDeliverableSignal() is { } next) return Deliver(ref context, ref user, next);
        if (Kernel.ExitStatus is { } status) return TerminateWith(status - 128, Kernel.TerminationMessage);
        context.Registers = user.Registers;
        EnterUserMode(ref context, user.Rip, user.Registers.Rsp, user.Rflags);
        return ExitAction.Resume;
    }

    private static void WriteSiginfo(Span<byte> info, SignalInfo signal)
    {
        BinaryPrimitives.WriteInt32LittleEndian(info, signal.Number);
        BinaryPrimitives.WriteInt32LittleEndian(info[8..], signal.Code);
        if (signal.Code is Signal.SiUser or Signal.SiTkill)
        {
            BinaryPrimitives.WriteInt32LittleEndian(info[16..], signal.SenderPid);
            BinaryPrimitives.WriteUInt32LittleEndian(info[20..], signal.SenderUid);
        }
        else BinaryPrimitives.WriteUInt64LittleEndian(info[16..], signal.Address);
    }

    /// <summary>A handler starts with the x87/SSE state in its initial configuration, as Linux gives it (fpu__clear_user_states).</summary>
    private static void ResetFloatingPointForHandler(Execution.Processor p)
    {
        p.ResetFpu();
        p.Mxcsr = 0x1F80;
        for (int i = 0; i < 16; i++) p.Xmm[i] = Vector128<byte>.Zero;
    }

    /// <summary>Continues in user mode at <paramref name="rip"/> with the given stack and flags (the VMCALL is not completed).</summary>
    private static void EnterUserMode(ref ExitContext context, ulong rip, ulong rsp, ulong rflags)
    {
        var v = context.Vmcs;
        v.Write(VmcsField.GuestRip, rip);
        v.Write(VmcsField.GuestRsp, rsp);
        context.Registers.Rsp = rsp;
        v.Write(VmcsField.GuestRflags, (rflags & RestorableFlags) | UserFlags);
        LongModeGuest.WriteUserCodeAndStackSegments(v);
    }

    /// <summary>
    /// The VMX-preemption timer exit armed for the process's real-time timer: raises SIGALRM when it is due and delivers
    /// what is deliverable. In the system-call stub (CPL 0) nothing is delivered: the call's return will do it.
    /// </summary>
    public ExitAction TimerExpired(ref ExitContext context)
    {
        // The running thread's time slice is over and another thread waits: it runs first.
        if (_sliceDeadline != long.MaxValue && System.Diagnostics.Stopwatch.GetTimestamp() >= _sliceDeadline && _scheduler.OthersReady)
        {
            try
            {
                YieldProcessor();
            }
            catch (ProcessEndingException)
            {
                return ExitAction.Stop;
            }
        }
        Kernel.FireTimerIfDue();
        ExitAction action = ExitAction.Resume;
        if (context.GuestRip < AddressSpace.UserTop && Kernel.TakeDeliverableSignal() is { } signal)
        {
            var user = new UserContext
            {
                Registers = context.Registers,
                Rip = context.GuestRip,
                Rflags = context.Vmcs.Read(VmcsField.GuestRflags),
            };
            user.Registers.Rsp = context.Vmcs.Read(VmcsField.GuestRsp);
            action = Deliver(ref context, ref user, signal);
        }
        if (Kernel.ExitStatus is { } status) return Terminate(status, Kernel.TerminationMessage ?? $"terminated by signal {status - 128}");
        return Continue(ref context, action);
    }

    /// <summary>
    /// Every exit the process resumes from goes through here: a stale TLB is flushed, and the VMX-preemption timer is
    /// armed while the real-time timer is, or while another thread waits for the processor (the end of the time slice).
    /// It counts at 1 GHz / 2^5 here, so one VMCS value covers about 137 s; a longer wait re-arms on expiry.
    /// </summary>
    private ExitAction Continue(ref ExitContext context, ExitAction action)
    {
        if (action.Kind == ExitActionKind.Stop) return action;
        long sliceDeadline = PrepareToResume();
        var v = context.Vmcs;
        uint pin = v.Read32(VmcsField.PinBasedVmExecutionControls);
        const uint timerBit = (uint)PinBasedControls.ActivateVmxPreemptionTimer;
        long? alarm = Kernel.TimerDeadline;
        if (alarm is not null || sliceDeadline != long.MaxValue)
        {
            long deadline = Math.Min(alarm ?? long.MaxValue, sliceDeadline);
            long ticks = Math.Max(0, deadline - System.Diagnostics.Stopwatch.GetTimestamp());
            double nanoseconds = ticks * (1e9 / System.Diagnostics.Stopwatch.Frequency);
            // In the stub, expire a little later: the call's return delivers the signal.
            ulong value = context.GuestRip >= AddressSpace.UserTop ? 1024 : (ulong)(nanoseconds / (1 << VCpu.PreemptionTimerRateShift));
            v.Write(VmcsField.VmxPreemptionTimerValue, (uint)Math.Min(value, uint.MaxValue));
            if ((pin & timerBit) == 0) v.Write(VmcsField.PinBasedVmExecutionControls, pin | timerBit);
        }
        else if ((pin & timerBit) != 0) v.Write(VmcsField.PinBasedVmExecutionControls, pin & ~timerBit);
        return action;
    }

    private ExitAction TerminateWith(int signal, string? message)
    {
        Kernel.TerminateBySignal(signal, message);
        return Terminate(128 + signal, message ?? $"terminated by signal {signal}");
    }
}
