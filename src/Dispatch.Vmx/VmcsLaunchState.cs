namespace Dispatch.Vmx;

/// <summary>
/// The launch state of a VMCS (Intel SDM Vol. 3C, 25.1 "Overview"): VMCLEAR makes it clear, a successful VMLAUNCH makes
/// it launched; VMLAUNCH needs clear and VMRESUME needs launched (31.3, VM-instruction errors 4 and 5).
/// </summary>
public enum VmcsLaunchState : byte
{
    Clear,
    Launched,
}
