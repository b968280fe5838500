namespace Dispatch.Vmx;

/// <summary>Primary processor-based VM-execution controls (field 0x4002). Intel SDM Vol. 3C, 25.6.2, Table 25-6.</summary>
[Flags]
public enum PrimaryProcessorControls : uint
{
    None = 0,
    InterruptWindowExiting = 1u << 2,
    UseTscOffsetting = 1u << 3,
    HltExiting = 1u << 7,
    InvlpgExiting = 1u << 9,
    MwaitExiting = 1u << 10,
    RdpmcExiting = 1u << 11,
    RdtscExiting = 1u << 12,
    Cr3LoadExiting = 1u << 15,
    Cr3StoreExiting = 1u << 16,
    ActivateTertiaryControls = 1u << 17,
    Cr8LoadExiting = 1u << 19,
    Cr8StoreExiting = 1u << 20,
    UseTprShadow = 1u << 21,
    NmiWindowExiting = 1u << 22,
    MovDrExiting = 1u << 23,
    UnconditionalIoExiting = 1u << 24,
    UseIoBitmaps = 1u << 25,
    MonitorTrapFlag = 1u << 27,
    UseMsrBitmaps = 1u << 28,
    MonitorExiting = 1u << 29,
    PauseExiting = 1u << 30,
    ActivateSecondaryControls = 1u << 31,
}
