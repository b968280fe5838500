using Dispatch.Vmx;

namespace Dispatch.Execution;

/// <summary>
/// Exceptions and interrupts in IA-32e mode (Intel SDM Vol. 3A, 6.14): the exception bitmap decides between a VM exit and
/// delivery through the guest's IDT; delivery switches stacks through the TSS (RSPn, IST), and a fault during delivery
/// becomes #DF, then a triple fault (which always exits in VMX non-root operation).
/// </summary>
internal sealed partial class Processor
{
    private byte _pendingVector;
    private uint _pendingErrorCode;
    private InterruptionType _pendingType;
    private InterruptionInfo _deliveringEvent;
    private uint _deliveringErrorCode;

    /// <summary>Raises a hardware exception from inside an instruction.</summary>
    internal void RaiseException(byte vector, uint errorCode = 0)
    {
        RecordException(vector, errorCode);
        throw ExecutionInterrupt.Instance;
    }

    /// <summary>
    /// Makes a hardware exception pending without unwinding: the caller returns a failure up to the block loop, which
    /// delivers it as <see cref="RaiseException"/>'s catch would. Returns false so a check can <c>return RecordException(...)</c>.
    /// </summary>
    private bool RecordException(byte vector, uint errorCode)
    {
        _pendingVector = vector;
        _pendingErrorCode = errorCode;
        _pendingType = InterruptionType.HardwareException;
        return false;
    }

    /// <summary>
    /// Either exits (the exception bitmap selects the vector, Intel SDM Vol. 3C, 26.2) or delivers the pending exception.
    /// Returns false when the result is a VM exit.
    /// </summary>
    private bool TryDeliverPendingException()
    {
        byte vector = _pendingVector;
        var info = InterruptionInfo.Create(vector, _pendingType, ExceptionVector.PushesErrorCode(vector) && _pendingType == InterruptionType.HardwareException);
        if (ExceptionExits(vector, _pendingErrorCode))
        {
            BeginExit(ExitReason.ExceptionOrNmi, vector == ExceptionVector.PageFault ? PendingFaultAddress : 0);
            _exitPending = false;
            Exit.InterruptionInformation = info.Raw;
            if (info.HasErrorCode) Exit.InterruptionErrorCode = _pendingErrorCode;
            _deliveringEvent = default;
            return false;
        }
        return DeliverEvent(info, _pendingErrorCode, Rip);
    }

    /// <summary>The exception-bitmap rule, with the #PF error-code mask/match refinement (Intel SDM Vol. 3C, 26.2).</summary>
    private bool ExceptionExits(byte vector, uint errorCode)
    {
        bool bit = (Controls.ExceptionBitmap & (1u << vector)) != 0;
        if (vector != ExceptionVector.PageFault) return bit;
        bool matches = (errorCode & Controls.PageFaultErrorCodeMask) == Controls.PageFaultErrorCodeMatch;
        return matches ? bit : !bit;
    }

    /// <summary>
    /// Delivers an event through the IDT with <paramref name="returnRip"/> as the pushed RIP. Nested faults escalate by the
    /// SDM's double-fault rules (Vol. 3A, Table 6-5). Returns false when delivery ended in a VM exit.
    /// </summary>
    internal bool DeliverEvent(InterruptionInfo info, uint errorCode, ulong returnRip)
    {
        var outer = _deliveringEvent;
        uint outerError = _deliveringErrorCode;
        if (outer.IsValid && info.Type == InterruptionType.HardwareException)
        {
            bool outerContributory = IsContributory(outer.Vector), outerPageFault = outer.Vector == ExceptionVector.PageFault;
            if (outer.Vector == ExceptionVector.DoubleFault)
            {
                _deliveringEvent = default;
                BeginExit(ExitReason.TripleFault, 0);
                _exitPending = false;
                Exit.IdtVectoringInformation = 0;
                return false;
            }
            if ((outerContributory && IsContributory(info.Vector)) || (outerPageFault && (IsContributory(info.Vector) || info.Vector == ExceptionVector.PageFault)))
            {
                _deliveringEvent = default;
                if (ExceptionExits(ExceptionVector.DoubleFault, 0))
                {
                    BeginExit(ExitReason.ExceptionOrNmi, 0);
                    _exitPending = false;
                    Exit.InterruptionInformation = InterruptionInfo.HardwareException(ExceptionVector.DoubleFault).Raw;
                    return false;
                }
                info = InterruptionInfo.HardwareException(ExceptionVector.DoubleFault);
                errorCode = 0;
            }
        }
        _ = outerError;
        _deliveringEvent = info;
        _deliveringErrorCode = errorCode;
        try
        {
            PushEventFrame(info, errorCode, returnRip);
            if (info.Vector == ExceptionVector.PageFault && info.Type == InterruptionType.HardwareException) Cr2 = PendingFaultAddress;
            _deliveringEvent = default;
            return true;
        }
        catch (ExecutionInterrupt)
        {
            if (_exitPending)
            {
                _exitPending = false;
                _deliveringEvent = default;
                return false;
            }
            // A fault while delivering: deliver that one (escalating as the rules say).
            var nested = InterruptionInfo.Create(_pendingVector, InterruptionType.HardwareException, ExceptionVector.PushesErrorCode(_pendingVector));
            if (ExceptionExits(_pendingVector, _pendingErrorCode) && !(IsContributory(info.Vector) && IsContributory(_pendingVector)))
            {
                BeginExit(ExitReason.ExceptionOrNmi, _pendingVector == ExceptionVector.PageFault ? PendingFaultAddress : 0);
                _exitPending = false;
                Exit.InterruptionInformation = nested.Raw;
                if (nested.HasErrorCode) Exit.InterruptionErrorCode = _pendingErrorCode;
                _deliveringEvent = default;
                return false;
            }
            return DeliverEvent(nested, _pendingErrorCode, returnRip);
        }
    }

    private static bool IsContributory(byte vector) => vector is ExceptionVector.DivideError or ExceptionVector.InvalidTss
        or ExceptionVector.SegmentNotPresent or ExceptionVector.StackFault or ExceptionVector.GeneralProtection;

    /// <summary>Reads the 64-bit IDT gate, switches stacks if needed and pushes the interrupt frame (Vol. 3A, 6.14.2-6.14.5).</summary>
    private void PushEventFrame(InterruptionInfo info, uint errorCode, ulong returnRip)
    {
        byte vector = info.Vector;
        bool software = info.Type is InterruptionType.SoftwareInterrupt or InterruptionType.SoftwareException or InterruptionType.PrivilegedSoftwareException;
        uint idtError = (uint)(vector * 8 + 2 + (software ? 0 : 1));
        if ((ulong)vector * 16 + 15 > IdtrLimit) RaiseException(ExceptionVector.GeneralProtection, idtError);
        ulong gateLow = ReadSupervisor(IdtrBase + (ulong)vector * 16);
        ulong gateHigh = ReadSupervisor(IdtrBase + (ulong)vector * 16 + 8);
        int type = (int)((gateLow >> 40) & 0xF);
        int gateDpl = (int)((gateLow >> 45) & 3);
        bool present = (gateLow & (1UL << 47)) != 0;
        if (type is not (0xE or 0xF)) RaiseException(ExceptionVector.GeneralProtection, idtError);
        if (software && gateDpl < Cpl) RaiseException(ExceptionVector.GeneralProtection, idtError);
        if (!present) RaiseException(ExceptionVector.SegmentNotPresent, idtError);
        ushort selector = (ushort)(gateLow >> 16);
        ulong target = (gateLow & 0xFFFF) | ((gateLow >> 32) & 0xFFFF_0000) | (gateHigh << 32);
        int ist = (int)((gateLow >> 32) & 7);
        SegmentRegister newCs = ReadCodeSegment(selector, errorCodeBase: selector & 0xFFFC);
        int newCpl = newCs.Dpl;
        if (newCpl > Cpl) RaiseException(ExceptionVector.GeneralProtection, (uint)(selector & 0xFFFC));

        ulong oldRsp = Gpr.Rsp, oldSs = Ss.Selector, oldCs = Cs.Selector;
        ulong rflags = MaterializeFlags();
        ulong rsp = oldRsp;
        if (ist != 0) rsp = ReadSupervisor(Tr.Base + 36 + (ulong)(ist - 1) * 8);
        else if (newCpl < Cpl) rsp = ReadSupervisor(Tr.Base + 4 + (ulong)newCpl * 8);
        rsp &= ~0xFUL;

        // Build the frame, then write it with the new privilege level's view of memory (supervisor writes).
        Span<ulong> frame = stackalloc ulong[6];
        int n = 0;
        if (info.HasErrorCode) frame[n++] = errorCode;
        frame[n++] = returnRip;
        frame[n++] = oldCs;
        frame[n++] = rflags;
        frame[n++] = oldRsp;
        frame[n++] = oldSs;
        for (int i = 0; i < n; i++) WriteSupervisor(rsp - (ulong)(n - i) * 8, frame[i]);

        if (newCpl != Cpl)
        {
            Ss = SegmentRegister.Unusable;
            Ss.Selector = (ushort)newCpl;
            Ss.AccessRights = 0x3 | 0x10 | ((uint)newCpl << 5) | 0x80 | 0x4000 | 0x8000 | SegmentRegister.UnusableBit;
        }
        Cs = newCs;
        Gpr.Rsp = rsp - (ulong)n * 8;
        Rip = target;
        ulong cleared = Dispatch.Rflags.TF | Dispatch.Rflags.NT | Dispatch.Rflags.RF | Dispatch.Rflags.VM;
        if (type == 0xE) cleared |= Dispatch.Rflags.IF;
        SetFlags(rflags & ~cleared);
    }

    /// <summary>Reads a 64-bit code-segment descriptor from the GDT (LDT selectors are not supported) into VMX form.</summary>
    internal SegmentRegister ReadCodeSegment(ushort selector, int errorCodeBase)
    {
        if ((selector & 0xFFFC) == 0 || (selector & 4) != 0) RaiseException(ExceptionVector.GeneralProtection, (uint)errorCodeBase);
        ulong offset = (ulong)(selector & 0xFFF8);
        if (offset + 7 > GdtrLimit) RaiseException(ExceptionVector.GeneralProtection, (uint)errorCodeBase);
        ulong d = ReadSupervisor(GdtrBase + offset);
        uint access = (uint)((d >> 40) & 0xFF) | (uint)(((d >> 52) & 0xF) << 12);
        bool code = (access & 0x18) == 0x18;
        if (!code || (access & 0x2000) == 0) RaiseException(ExceptionVector.GeneralProtection, (uint)errorCodeBase);
        if ((access & 0x80) == 0) RaiseException(ExceptionVector.SegmentNotPresent, (uint)errorCodeBase);
        return new SegmentRegister
        {
            Selector = (ushort)((uint)(selector & 0xFFFC) | ((access >> 5) & 3)),
            Base = 0,
            Limit = 0xFFFF_FFFF,
            AccessRights = access | 1, // accessed
        };
    }

    /// <summary>Implicit supervisor-mode access (IDT, GDT, TSS, interrupt frames): user/supervisor checks use CPL 0.</summary>
    private ulong ReadSupervisor(ulong linear)
    {
        var saved = Cs.AccessRights;
        Cs.AccessRights &= ~(3u << 5);
        try { return ReadMemory(linear, 8); }
        finally { Cs.AccessRights = saved; }
    }

    private void WriteSupervisor(ulong linear, ulong value)
    {
        var saved = Cs.AccessRights;
        Cs.AccessRights &= ~(3u << 5);
        try { WriteMemory(linear, 8, value); }
        finally { Cs.AccessRights = saved; }
    }
}
