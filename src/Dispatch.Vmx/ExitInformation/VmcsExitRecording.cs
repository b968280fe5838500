using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

public sealed partial class Vmcs
{
    /// <summary>
    /// Records a VM exit (Intel SDM Vol. 3C, 28.2): the full 32-bit exit reason, the qualification, the guest-linear and
    /// guest-physical addresses, the instruction length and information, the exit interruption information and error
    /// code, and the IDT-vectoring information and error code. It also clears the valid bit of the VM-entry
    /// interruption-information field (28.3: every VM exit does, so a stale injection is never repeated). For an entry
    /// failure (bit 31) only the reason and qualification are defined; the other exit-information fields keep their
    /// values, as the SDM leaves them (27.8). Allocates nothing.
    /// </summary>
    public void RecordExit(in VmExitInformation exit)
    {
        // The processor's own stores, on every exit: straight into the slots (the fields are constants, so each is one
        // store; every value already has its field's width) and one version step for the whole record.
        SetUncounted(VmcsField.VmExitReason, exit.Reason.Raw);
        SetUncounted(VmcsField.ExitQualification, exit.Qualification);
        if (!exit.Reason.IsEntryFailure)
        {
            SetUncounted(VmcsField.GuestLinearAddress, exit.GuestLinearAddress);
            SetUncounted(VmcsField.GuestPhysicalAddress, exit.GuestPhysicalAddress);
            SetUncounted(VmcsField.VmExitInstructionLength, exit.InstructionLength);
            SetUncounted(VmcsField.VmExitInstructionInformation, exit.InstructionInformation);
            SetUncounted(VmcsField.VmExitInterruptionInformation, exit.ExitInterruption.Raw);
            SetUncounted(VmcsField.VmExitInterruptionErrorCode, exit.ExitInterruptionErrorCode);
            SetUncounted(VmcsField.IdtVectoringInformation, exit.IdtVectoring.Raw);
            SetUncounted(VmcsField.IdtVectoringErrorCode, exit.IdtVectoringErrorCode);
        }
        _slots[SlotOf((uint)VmcsField.VmEntryInterruptionInformation)] &= ~(ulong)InterruptionInfo.ValidBit;
        Version++;
    }

    /// <summary>Stores a full field's value (already of its width) without counting a write; callers count once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetUncounted(VmcsField field, ulong value) => _slots[SlotOf((uint)field)] = value;
}
