namespace Dispatch.Vmx;

/// <summary>Pin-based VM-execution controls (field 0x4000). Intel SDM Vol. 3C, 25.6.1, Table 25-5.</summary>
[Flags]
public enum PinBasedControls : uint
{
    None = 0,
    ExternalInterruptExiting = 1u << 0,
    NmiExiting = 1u << 3,
    VirtualNmis = 1u << 5,
    ActivateVmxPreemptionTimer = 1u << 6,
    ProcessPostedInterrupts = 1u << 7,
}
