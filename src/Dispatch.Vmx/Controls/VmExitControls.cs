namespace Dispatch.Vmx;

/// <summary>Primary VM-exit controls (field 0x400C). Intel SDM Vol. 3C, 25.7.1, Table 25-13.</summary>
[Flags]
public enum VmExitControls : uint
{
    None = 0,
    SaveDebugControls = 1u << 2,
    HostAddressSpaceSize = 1u << 9,
    LoadIa32PerfGlobalCtrl = 1u << 12,
    AcknowledgeInterruptOnExit = 1u << 15,
    SaveIa32Pat = 1u << 18,
    LoadIa32Pat = 1u << 19,
    SaveIa32Efer = 1u << 20,
    LoadIa32Efer = 1u << 21,
    SaveVmxPreemptionTimerValue = 1u << 22,
    ClearIa32Bndcfgs = 1u << 23,
    ConcealVmxFromPt = 1u << 24,
    ClearIa32RtitCtl = 1u << 25,
    ClearIa32LbrCtl = 1u << 26,
    ClearUinv = 1u << 27,
    LoadCetState = 1u << 28,
    LoadPkrs = 1u << 29,
    SaveIa32PerfGlobalCtl = 1u << 30,
    ActivateSecondaryControls = 1u << 31,
}
