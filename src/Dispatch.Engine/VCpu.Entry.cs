using System.Diagnostics;
using Dispatch.Execution;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// VM entry (Intel SDM Vol. 3C, chapter 27): launch state, checks, guest-state load, then event injection (27.6). A
/// guest-state check failure is not an error return: it is a VM exit with bit 31 set, reason 33.
/// </summary>
public sealed partial class VCpu
{
    private long _preemptionDeadline = long.MaxValue;
    private int _pendingExternalVector = -1;
    private bool _pendingNmi;

    /// <summary>
    /// Enters the guest. Returns 0 on success, or the VM-instruction error of a VMfailValid. When the entry itself ends in
    /// a VM exit (a guest-state check, an exit during event injection, a window or timer that fires at once),
    /// <paramref name="exitedOnEntry"/> is set and the processor's exit information describes it.
    /// </summary>
    private uint Enter(out bool exitedOnEntry)
    {
        exitedOnEntry = false;
        uint error = CheckControlsAndHostState();
        if (error != 0)
        {
            Vmcs.Write(VmcsField.VmInstructionError, error);
            return error;
        }
        if (!GuestStateIsRunnable(out ulong qualification))
        {
            Processor.BeginExit(ExitReason.EntryFailureGuestState, qualification);
            Processor.Exit.EntryFailure = true;
            exitedOnEntry = true;
            return 0;
        }
        IsLaunched = true;
        LoadGuestState();
        ArmPreemptionTimer();

        uint injection = Vmcs.Read32(VmcsField.VmEntryInterruptionInformation);
        if ((injection & InterruptionInfo.ValidBit) != 0)
        {
            var info = new InterruptionInfo(injection);
            bool software = info.Type is InterruptionType.SoftwareInterrupt or InterruptionType.SoftwareException or InterruptionType.PrivilegedSoftwareException;
            ulong returnRip = Processor.Rip + (software ? Vmcs.Read(VmcsField.VmEntryInstructionLength) : 0);
            Processor.Halted = false;
            if (!Processor.DeliverEvent(info, Vmcs.Read32(VmcsField.VmEntryExceptionErrorCode), returnRip))
            {
                exitedOnEntry = true;
                return 0;
            }
        }
        return 0;
    }

    /// <summary>
    /// The engine's own requirements on the controls and host state (27.2). The full SDM checks live in the VT-x model;
    /// here only what the engine cannot run without is refused, with VMfailValid 7.
    /// </summary>
    private uint CheckControlsAndHostState()
    {
        uint cr3Targets = Vmcs.Read32(VmcsField.Cr3TargetCount);
        if (cr3Targets > 4) return 7;
        return 0;
    }

    /// <summary>
    /// The interpreter runs 64-bit code only: the guest must be in IA-32e mode with a 64-bit code segment, paging on.
    /// Anything else is an invalid guest state for this model (entry failure, qualification 0).
    /// </summary>
    private bool GuestStateIsRunnable(out ulong qualification)
    {
        qualification = 0;
        var entry = (VmEntryControls)Vmcs.Read32(VmcsField.VmEntryControls);
        if ((entry & VmEntryControls.Ia32eModeGuest) == 0) return false;
        uint csAr = Vmcs.Read32(VmcsField.GuestCsAccessRights);
        if ((csAr & (1u << 13)) == 0 || (csAr & SegmentRegister.UnusableBit) != 0) return false;
        ulong cr0 = Vmcs.Read(VmcsField.GuestCr0);
        if ((cr0 & ControlRegisters.Cr0PG) == 0 || (cr0 & ControlRegisters.Cr0PE) == 0) return false;
        if ((Vmcs.Read(VmcsField.GuestCr4) & ControlRegisters.Cr4PAE) == 0) return false;
        return true;
    }

    /// <summary>
    /// The VMX-preemption timer counts down at the TSC rate divided by 2^5 (IA32_VMX_MISC bits 4:0 report 5), from the
    /// value in the VMCS at entry (Intel SDM Vol. 3C, 26.5.1). Guest TSC here is a 1 GHz clock.
    /// </summary>
    private void ArmPreemptionTimer()
    {
        _preemptionDeadline = long.MaxValue;
        if (!Processor.Controls.Has(PinBasedControls.ActivateVmxPreemptionTimer)) return;
        ulong value = Vmcs.Read32(VmcsField.VmxPreemptionTimerValue);
        double seconds = (value << PreemptionTimerRateShift) / 1e9;
        _preemptionDeadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
    }

    /// <summary>IA32_VMX_MISC bits 4:0: the timer ticks once every 2^5 TSC cycles.</summary>
    public const int PreemptionTimerRateShift = 5;

    /// <summary>Makes an external interrupt pending (as an interrupt controller would). Delivered or exited on at the next check.</summary>
    public void RaiseExternalInterrupt(byte vector) => _pendingExternalVector = vector;

    /// <summary>Makes an NMI pending.</summary>
    public void RaiseNmi() => _pendingNmi = true;

    /// <summary>
    /// Exit conditions checked between instructions (26.2 and 26.7): the preemption timer, pending NMIs and external
    /// interrupts, and the interrupt and NMI windows, in the SDM's priority order.
    /// </summary>
    private bool PendingEventExit()
    {
        var p = Processor;
        var c = p.Controls;
        if (_preemptionDeadline != long.MaxValue && Stopwatch.GetTimestamp() >= _preemptionDeadline)
        {
            p.BeginExit(ExitReason.VmxPreemptionTimerExpired, 0);
            if (((VmExitControls)Vmcs.Read32(VmcsField.PrimaryVmExitControls) & VmExitControls.SaveVmxPreemptionTimerValue) != 0)
                Vmcs.Write(VmcsField.VmxPreemptionTimerValue, 0);
            _preemptionDeadline = long.MaxValue;
            return true;
        }
        bool blockedBySti = (p.Interruptibility & 3) != 0;
        bool nmiBlocked = (p.Interruptibility & 8) != 0;
        if (_pendingNmi && !nmiBlocked && c.Has(PinBasedControls.NmiExiting))
        {
            _pendingNmi = false;
            p.BeginExit(ExitReason.ExceptionOrNmi, 0);
            p.Exit.InterruptionInformation = InterruptionInfo.Create(2, InterruptionType.Nmi).Raw;
            return true;
        }
        if (c.Has(PrimaryProcessorControls.NmiWindowExiting) && !nmiBlocked && !blockedBySti)
        {
            p.BeginExit(ExitReason.NmiWindow, 0);
            return true;
        }
        bool interruptible = p.GetIF() && !blockedBySti;
        if (_pendingExternalVector >= 0 && c.Has(PinBasedControls.ExternalInterruptExiting))
        {
            byte vector = (byte)_pendingExternalVector;
            _pendingExternalVector = -1;
            p.BeginExit(ExitReason.ExternalInterrupt, 0);
            if (((VmExitControls)Vmcs.Read32(VmcsField.PrimaryVmExitControls) & VmExitControls.AcknowledgeInterruptOnExit) != 0)
                p.Exit.InterruptionInformation = InterruptionInfo.Create(vector, InterruptionType.ExternalInterrupt).Raw;
            return true;
        }
        if (c.Has(PrimaryProcessorControls.InterruptWindowExiting) && interruptible)
        {
            p.BeginExit(ExitReason.InterruptWindow, 0);
            return true;
        }
        if (_pendingExternalVector >= 0 && interruptible)
        {
            var info = InterruptionInfo.Create((byte)_pendingExternalVector, InterruptionType.ExternalInterrupt);
            _pendingExternalVector = -1;
            p.Halted = false;
            if (!p.DeliverEvent(info, 0, p.Rip)) return true;
        }
        if (_pendingNmi && !nmiBlocked)
        {
            _pendingNmi = false;
            p.Halted = false;
            p.Interruptibility |= 8;
            if (!p.DeliverEvent(InterruptionInfo.Create(2, InterruptionType.Nmi), 0, p.Rip)) return true;
        }
        // STI and MOV-SS blocking lasts one instruction; the slice after it starts unblocked.
        p.Interruptibility &= ~3u;
        return false;
    }
}
