namespace Dispatch;

/// <summary>Model-specific register indices the engine implements (Intel SDM Vol. 4).</summary>
public static class Msr
{
    public const uint Ia32TimeStampCounter = 0x10;
    public const uint Ia32ApicBase = 0x1B;
    public const uint Ia32FeatureControl = 0x3A;
    /// <summary>Writable only in SMM: never loaded from a VMX MSR-load area (Intel SDM Vol. 3C, 27.4 and 28.6).</summary>
    public const uint Ia32SmmMonitorCtl = 0x9B;
    public const uint Ia32SysenterCs = 0x174;
    public const uint Ia32SysenterEsp = 0x175;
    public const uint Ia32SysenterEip = 0x176;
    public const uint Ia32MiscEnable = 0x1A0;
    public const uint Ia32DebugCtl = 0x1D9;
    public const uint Ia32Pat = 0x277;
    public const uint Ia32Efer = 0xC000_0080;
    public const uint Ia32Star = 0xC000_0081;
    public const uint Ia32Lstar = 0xC000_0082;
    public const uint Ia32Cstar = 0xC000_0083;
    public const uint Ia32Fmask = 0xC000_0084;
    public const uint Ia32FsBase = 0xC000_0100;
    public const uint Ia32GsBase = 0xC000_0101;
    public const uint Ia32KernelGsBase = 0xC000_0102;
    public const uint Ia32TscAux = 0xC000_0103;

    /// <summary>MSRs 0x800-0x8FF reach the local APIC's registers in x2APIC mode (Intel SDM Vol. 3A, 11.12.1).</summary>
    public static bool IsX2ApicRange(uint msr) => msr >> 8 == 0x8;
}
