namespace Dispatch.Vmx;

/// <summary>Indices of the VMX capability MSRs. Intel SDM Vol. 3D, Appendix A and Vol. 4, Table 2-2.</summary>
public static class VmxMsr
{
    public const uint Basic = 0x480;
    public const uint PinBasedControls = 0x481;
    public const uint ProcessorBasedControls = 0x482;
    public const uint ExitControls = 0x483;
    public const uint EntryControls = 0x484;
    public const uint Misc = 0x485;
    public const uint Cr0Fixed0 = 0x486;
    public const uint Cr0Fixed1 = 0x487;
    public const uint Cr4Fixed0 = 0x488;
    public const uint Cr4Fixed1 = 0x489;
    public const uint VmcsEnum = 0x48A;
    public const uint ProcessorBasedControls2 = 0x48B;
    public const uint EptVpidCapabilities = 0x48C;
    public const uint TruePinBasedControls = 0x48D;
    public const uint TrueProcessorBasedControls = 0x48E;
    public const uint TrueExitControls = 0x48F;
    public const uint TrueEntryControls = 0x490;
    public const uint VmFunctions = 0x491;
}
