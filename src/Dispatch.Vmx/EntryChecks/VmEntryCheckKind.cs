namespace Dispatch.Vmx;

/// <summary>Which part of the VMCS a VM-entry check belongs to; it decides how a failure is reported (SDM Vol. 3C, 27.1).</summary>
public enum VmEntryCheckKind : byte
{
    /// <summary>27.2.1: a failure is VMfailValid with error 7.</summary>
    Control,
    /// <summary>27.2.2-27.2.4: a failure is VMfailValid with error 8.</summary>
    HostState,
    /// <summary>27.3.1: a failure is a VM exit with basic reason 33 and bit 31 set.</summary>
    GuestState,
}

/// <summary>Exit qualification of a VM-entry failure due to invalid guest state (SDM Vol. 3C, 27.8).</summary>
public enum VmEntryFailureQualification : ulong
{
    Default = 0,
    PdpteLoading = 2,
    NmiInjectionWithStiBlocking = 3,
    InvalidVmcsLinkPointer = 4,
}
