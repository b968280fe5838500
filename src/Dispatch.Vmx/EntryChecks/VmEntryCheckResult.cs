namespace Dispatch.Vmx;

/// <summary>How a run of the VM-entry checks ended (SDM Vol. 3C, 27.1).</summary>
public enum VmEntryCheckOutcome : byte
{
    Passed,
    /// <summary>A control or host-state check failed: VMfailValid with <see cref="VmEntryCheckResult.Error"/>.</summary>
    FailValid,
    /// <summary>A guest-state check failed: VM exit with reason 33 | bit 31 and <see cref="VmEntryCheckResult.Qualification"/>.</summary>
    EntryFailure,
}

/// <summary>The result of <see cref="VmEntryChecks.Run"/>, with the name of the first check that failed.</summary>
public readonly record struct VmEntryCheckResult(
    VmEntryCheckOutcome Outcome,
    VmInstructionError Error,
    ExitReasonField ExitReason,
    VmEntryFailureQualification Qualification,
    VmEntryCheck? FailedCheck)
{
    public static VmEntryCheckResult Passed => default;

    public bool IsPassed => Outcome == VmEntryCheckOutcome.Passed;

    public string? FailedCheckName => FailedCheck?.Name;

    public static VmEntryCheckResult Failed(VmEntryCheck check) => check.Kind switch
    {
        VmEntryCheckKind.Control => new(VmEntryCheckOutcome.FailValid, VmInstructionError.EntryInvalidControlFields, default, default, check),
        VmEntryCheckKind.HostState => new(VmEntryCheckOutcome.FailValid, VmInstructionError.EntryInvalidHostStateFields, default, default, check),
        _ => new(VmEntryCheckOutcome.EntryFailure, VmInstructionError.None,
            ExitReasonField.From(Dispatch.Vmx.ExitReason.EntryFailureGuestState, entryFailure: true), check.Qualification, check),
    };

    public override string ToString() => Outcome switch
    {
        VmEntryCheckOutcome.Passed => "passed",
        VmEntryCheckOutcome.FailValid => $"VMfailValid({(uint)Error}) at {FailedCheckName}",
        _ => $"entry failure (qualification {(ulong)Qualification}) at {FailedCheckName}",
    };
}
