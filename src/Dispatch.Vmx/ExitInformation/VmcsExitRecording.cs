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
        Write(VmcsField.VmExitReason, exit.Reason.Raw);
        Write(VmcsField.ExitQualification, exit.Qualification);
        if (!exit.Reason.IsEntryFailure)
        {
            Write(VmcsField.GuestLinearAddress, exit.GuestLinearAddress);
            Write(VmcsField.GuestPhysicalAddress, exit.GuestPhysicalAddress);
            Write(VmcsField.VmExitInstructionLength, exit.InstructionLength);
            Write(VmcsField.VmExitInstructionInformation, exit.InstructionInformation);
            Write(VmcsField.VmExitInterruptionInformation, exit.ExitInterruption.Raw);
            Write(VmcsField.VmExitInterruptionErrorCode, exit.ExitInterruptionErrorCode);
            Write(VmcsField.IdtVectoringInformation, exit.IdtVectoring.Raw);
            Write(VmcsField.IdtVectoringErrorCode, exit.IdtVectoringErrorCode);
        }
        ulong entryInfo = Read(VmcsField.VmEntryInterruptionInformation);
        Write(VmcsField.VmEntryInterruptionInformation, entryInfo & ~(ulong)InterruptionInfo.ValidBit);
    }
}
