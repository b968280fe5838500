using Dispatch.Vmx;

namespace Dispatch.Execution;

/// <summary>The exit information the interpreter gathers when an instruction or event causes a VM exit.</summary>
internal struct PendingExit
{
    public ExitReason Reason;
    /// <summary>Bit 31 of the exit reason: the exit reports a failed VM entry (guest state was not loaded).</summary>
    public bool EntryFailure;
    public ulong Qualification;
    public ulong GuestLinearAddress;
    public ulong GuestPhysicalAddress;
    public int InstructionLength;
    public uint InstructionInformation;
    public uint InterruptionInformation;
    public uint InterruptionErrorCode;
    public uint IdtVectoringInformation;
    public uint IdtVectoringErrorCode;
}
