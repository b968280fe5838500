namespace Dispatch.Vmx;

/// <summary>
/// The number a VMfailValid stores in the VM-instruction error field (encoding 0x4400).
/// Intel SDM Vol. 3C, 31.4 "VM Instruction Error Numbers", Table 31-1. Numbers 14, 21 and 27 are not defined.
/// Cross-checked in tests against Data/vm-instruction-errors.tsv.
/// </summary>
public enum VmInstructionError : uint
{
    /// <summary>No error; the field reads 0 until a VMfailValid writes it.</summary>
    None = 0,
    VmcallInVmxRootOperation = 1,
    VmclearInvalidAddress = 2,
    VmclearWithVmxonPointer = 3,
    VmlaunchNonClearVmcs = 4,
    VmresumeNonLaunchedVmcs = 5,
    VmresumeAfterVmxoff = 6,
    EntryInvalidControlFields = 7,
    EntryInvalidHostStateFields = 8,
    VmptrldInvalidAddress = 9,
    VmptrldWithVmxonPointer = 10,
    VmptrldIncorrectRevisionId = 11,
    UnsupportedVmcsComponent = 12,
    VmwriteReadOnlyComponent = 13,
    VmxonInVmxRootOperation = 15,
    EntryInvalidExecutiveVmcsPointer = 16,
    EntryNonLaunchedExecutiveVmcs = 17,
    EntryExecutiveVmcsPointerNotVmxonPointer = 18,
    VmcallNonClearVmcs = 19,
    VmcallInvalidVmExitControls = 20,
    VmcallIncorrectMsegRevisionId = 22,
    VmxoffUnderDualMonitorTreatment = 23,
    VmcallInvalidSmmMonitorFeatures = 24,
    EntryInvalidExecutionControlsInExecutiveVmcs = 25,
    EntryEventsBlockedByMovSs = 26,
    InvalidInveptInvvpidOperand = 28,
}
