namespace Dispatch.Vmx;

/// <summary>VM-entry controls (field 0x4012). Intel SDM Vol. 3C, 25.8.1, Table 25-15.</summary>
[Flags]
public enum VmEntryControls : uint
{
    None = 0,
    LoadDebugControls = 1u << 2,
    Ia32eModeGuest = 1u << 9,
    EntryToSmm = 1u << 10,
    DeactivateDualMonitorTreatment = 1u << 11,
    LoadIa32PerfGlobalCtrl = 1u << 13,
    LoadIa32Pat = 1u << 14,
    LoadIa32Efer = 1u << 15,
    LoadIa32Bndcfgs = 1u << 16,
    ConcealVmxFromPt = 1u << 17,
    LoadIa32RtitCtl = 1u << 18,
    LoadUinv = 1u << 19,
    LoadCetState = 1u << 20,
    LoadIa32LbrCtl = 1u << 21,
    LoadPkrs = 1u << 22,
}
