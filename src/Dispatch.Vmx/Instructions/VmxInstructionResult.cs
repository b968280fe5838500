namespace Dispatch.Vmx;

/// <summary>
/// The result of one VMX instruction: its outcome, the VM-instruction error number when the outcome is VMfailValid,
/// and the RFLAGS effect the SDM assigns to it (Intel SDM Vol. 3C, 31.2 "Conventions").
/// </summary>
public readonly record struct VmxInstructionResult(VmxInstructionOutcome Outcome, VmInstructionError Error = VmInstructionError.None)
{
    public const ulong CarryFlag = 1UL << 0;
    public const ulong ParityFlag = 1UL << 2;
    public const ulong AuxiliaryCarryFlag = 1UL << 4;
    public const ulong ZeroFlag = 1UL << 6;
    public const ulong SignFlag = 1UL << 7;
    public const ulong OverflowFlag = 1UL << 11;

    /// <summary>The six arithmetic flags every VMsucceed/VMfail convention writes.</summary>
    public const ulong ArithmeticFlags = CarryFlag | ParityFlag | AuxiliaryCarryFlag | ZeroFlag | SignFlag | OverflowFlag;

    public static VmxInstructionResult Succeed => new(VmxInstructionOutcome.Succeed);
    public static VmxInstructionResult FailInvalid => new(VmxInstructionOutcome.FailInvalid);
    public static VmxInstructionResult InvalidOpcode => new(VmxInstructionOutcome.InvalidOpcode);
    public static VmxInstructionResult FailValid(VmInstructionError error) => new(VmxInstructionOutcome.FailValid, error);

    public bool IsSuccess => Outcome is VmxInstructionOutcome.Succeed or VmxInstructionOutcome.VmEntered;

    /// <summary>
    /// Applies the outcome to a guest RFLAGS value. VMsucceed clears the six arithmetic flags; VMfailInvalid also sets CF;
    /// VMfailValid also sets ZF. Outcomes that are not flag conventions (#UD, VM entry) leave RFLAGS unchanged.
    /// </summary>
    public ulong ApplyTo(ulong rflags) => Outcome switch
    {
        VmxInstructionOutcome.Succeed => rflags & ~ArithmeticFlags,
        VmxInstructionOutcome.FailInvalid => (rflags & ~ArithmeticFlags) | CarryFlag,
        VmxInstructionOutcome.FailValid => (rflags & ~ArithmeticFlags) | ZeroFlag,
        _ => rflags,
    };

    public override string ToString() => Outcome == VmxInstructionOutcome.FailValid ? $"VMfailValid({(uint)Error} {Error})" : Outcome.ToString();
}
