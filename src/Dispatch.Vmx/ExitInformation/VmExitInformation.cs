namespace Dispatch.Vmx;

/// <summary>
/// What the engine knows about one VM exit, to be written into the VM-exit information fields by
/// <see cref="Vmcs.RecordExit(in VmExitInformation)"/>. Intel SDM Vol. 3C, 28.2 "Recording VM-Exit Information and
/// Updating VM-Entry Control Fields". Fields a given exit does not define stay at their defaults.
/// </summary>
public readonly record struct VmExitInformation(ExitReasonField Reason, ulong Qualification = 0)
{
    public ulong GuestLinearAddress { get; init; }
    public ulong GuestPhysicalAddress { get; init; }
    public uint InstructionLength { get; init; }
    public uint InstructionInformation { get; init; }
    public InterruptionInfo ExitInterruption { get; init; }
    public uint ExitInterruptionErrorCode { get; init; }
    public InterruptionInfo IdtVectoring { get; init; }
    public uint IdtVectoringErrorCode { get; init; }

    public VmExitInformation(ExitReason basic, ulong qualification = 0) : this(ExitReasonField.From(basic), qualification) { }
}
