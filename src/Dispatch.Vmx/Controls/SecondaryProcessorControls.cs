namespace Dispatch.Vmx;

/// <summary>Secondary processor-based VM-execution controls (field 0x401E). Intel SDM Vol. 3C, 25.6.2, Table 25-7.</summary>
[Flags]
public enum SecondaryProcessorControls : uint
{
    None = 0,
    VirtualizeApicAccesses = 1u << 0,
    EnableEpt = 1u << 1,
    DescriptorTableExiting = 1u << 2,
    EnableRdtscp = 1u << 3,
    VirtualizeX2ApicMode = 1u << 4,
    EnableVpid = 1u << 5,
    WbinvdExiting = 1u << 6,
    UnrestrictedGuest = 1u << 7,
    ApicRegisterVirtualization = 1u << 8,
    VirtualInterruptDelivery = 1u << 9,
    PauseLoopExiting = 1u << 10,
    RdrandExiting = 1u << 11,
    EnableInvpcid = 1u << 12,
    EnableVmFunctions = 1u << 13,
    VmcsShadowing = 1u << 14,
    EnclsExiting = 1u << 15,
    RdseedExiting = 1u << 16,
    EnablePml = 1u << 17,
    EptViolationVe = 1u << 18,
    ConcealVmxFromPt = 1u << 19,
    EnableXsavesXrstors = 1u << 20,
    PasidTranslation = 1u << 21,
    ModeBasedExecuteControlForEpt = 1u << 22,
    SubPageWritePermissionsForEpt = 1u << 23,
    PtUsesGuestPhysicalAddresses = 1u << 24,
    UseTscScaling = 1u << 25,
    EnableUserWaitAndPause = 1u << 26,
    EnablePconfig = 1u << 27,
    EnableEnclvExiting = 1u << 28,
    VmmBusLockDetection = 1u << 30,
    InstructionTimeout = 1u << 31,
}
