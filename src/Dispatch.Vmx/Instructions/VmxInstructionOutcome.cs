namespace Dispatch.Vmx;

/// <summary>
/// How a VMX instruction completed. Intel SDM Vol. 3C, 31.2 "Conventions": VMsucceed, VMfailInvalid, VMfailValid;
/// plus the outcomes of VMLAUNCH/VMRESUME that are not flag conventions (31.3 and 27.8).
/// </summary>
public enum VmxInstructionOutcome : byte
{
    /// <summary>VMsucceed: CF, PF, AF, ZF, SF and OF are cleared.</summary>
    Succeed,
    /// <summary>VMfailInvalid: CF is set, the other arithmetic flags are cleared; there is no current VMCS to hold an error number.</summary>
    FailInvalid,
    /// <summary>VMfailValid: ZF is set, the other arithmetic flags are cleared; the error number is in the current VMCS.</summary>
    FailValid,
    /// <summary>The instruction raises #UD (for example any VMX instruction other than VMXON outside VMX operation).</summary>
    InvalidOpcode,
    /// <summary>VMLAUNCH or VMRESUME passed every check: the processor now runs the guest.</summary>
    VmEntered,
    /// <summary>
    /// VMLAUNCH or VMRESUME failed a guest-state check: a VM exit with bit 31 of the exit reason set was recorded in the
    /// VMCS and the processor continues with host state (SDM 27.8 "VM-Entry Failures During or After Loading Guest State").
    /// </summary>
    EntryFailureVmExit,
}
