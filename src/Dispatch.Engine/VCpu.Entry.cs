using System.Diagnostics;
using System.Runtime.CompilerServices;
using Dispatch.Execution;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// VM entry (Intel SDM Vol. 3C, chapter 27): launch state, checks, guest-state load, the VM-entry MSR-load area (27.4),
/// then event injection (27.6). A guest-state check failure is not an error return: it is a VM exit with bit 31 set,
/// reason 33; an MSR-load failure likewise, reason 34.
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
    private VmInstructionError Enter(out bool exitedOnEntry)
    {
        exitedOnEntry = false;
        Processor.ResetPauseLoop();
        if (Vmcs.Version == _stateVersion)
        {
            // Nobody wrote the VMCS since the last exit saved the processor's state into it (and the engine mirrored its
            // own RIP advance): the processor already holds exactly this state, which passed the checks when it entered.
            // Only VTPR, which lives in guest memory, may have changed.
            var c = Processor.Controls;
            if (c.Has(PrimaryProcessorControls.UseTprShadow) && TprThresholdAboveVtpr(c.Primary, c.Secondary, c.TprThreshold, c.VirtualApicAddress))
                return FailTprThresholdCheck();
            ArmPreemptionTimer();
            return VmInstructionError.None;
        }
        // Only the checks that read a field changed since they last passed run again: a handler's write of guest RIP, a
        // read shadow or an event to inject costs a few checks, and the verdict is that of a full run.
        var check = _entryChecks.Run(Vmcs, Machine.Capabilities);
        LastEntryCheck = check;
        if (check.Outcome == VmEntryCheckOutcome.FailValid && check.Error == VmInstructionError.EntryInvalidControlFields)
        {
            Vmcs.Write(VmcsField.VmInstructionError, (uint)check.Error);
            return check.Error;
        }
        // The VTPR rule is a control-field check (27.2.1.1): it comes before the host-state and guest-state checks.
        var primary = (PrimaryProcessorControls)Vmcs.Read32(VmcsField.PrimaryProcessorBasedVmExecutionControls);
        if ((primary & PrimaryProcessorControls.UseTprShadow) != 0
            && TprThresholdAboveVtpr(primary, (SecondaryProcessorControls)Vmcs.Read32(VmcsField.SecondaryProcessorBasedVmExecutionControls),
                Vmcs.Read32(VmcsField.TprThreshold), Vmcs.Read(VmcsField.VirtualApicAddress)))
            return FailTprThresholdCheck();
        if (check.Outcome == VmEntryCheckOutcome.FailValid)
        {
            Vmcs.Write(VmcsField.VmInstructionError, (uint)check.Error);
            return check.Error;
        }
        ulong qualification = (ulong)check.Qualification;
        if (check.Outcome == VmEntryCheckOutcome.EntryFailure || !GuestStateIsRunnable())
        {
            Processor.BeginExit(ExitReason.EntryFailureGuestState, qualification);
            Processor.Exit.EntryFailure = true;
            exitedOnEntry = true;
            return VmInstructionError.None;
        }
        LoadGuestState();
        uint entryMsrCount = Vmcs.Read32(VmcsField.VmEntryMsrLoadCount);
        if (entryMsrCount != 0)
        {
            // 27.4: after the guest state; a failing entry fails the VM entry with its 1-based number as the qualification,
            // and the launch state stays as it was (31.3, VMLAUNCH). No guest state is saved by the exit (27.8), so the
            // next entry loads the VMCS again.
            uint failedEntry = LoadEntryMsrArea(entryMsrCount);
            if (failedEntry != 0)
            {
                Processor.BeginExit(ExitReason.EntryFailureMsrLoading, failedEntry);
                Processor.Exit.EntryFailure = true;
                exitedOnEntry = true;
                return VmInstructionError.None;
            }
        }
        IsLaunched = true;
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
                return VmInstructionError.None;
            }
        }
        _stateVersion = Vmcs.Version;
        return VmInstructionError.None;
    }

    private readonly VmEntryCheckCache _entryChecks = new();

    /// <summary>The VMCS version the processor's state corresponds to (-1: not in sync, load on next entry).</summary>
    private long _stateVersion = -1;

    /// <summary>The result of the last full VM-entry check, with the name of the check that failed, if any.</summary>
    public VmEntryCheckResult LastEntryCheck { get; private set; }

    /// <summary>
    /// Beyond the SDM's checks, the interpreter runs 64-bit code only: the guest must be in IA-32e mode with a 64-bit code
    /// segment and paging on. Anything else fails entry as an invalid guest state (qualification 0) in this model.
    /// </summary>
    private bool GuestStateIsRunnable()
    {
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ArmPreemptionTimer()
    {
        _preemptionDeadline = long.MaxValue;
        if (Processor.Controls.Has(PinBasedControls.ActivateVmxPreemptionTimer)) StartPreemptionTimer();
    }

    private void StartPreemptionTimer()
    {
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
