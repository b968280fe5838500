namespace Dispatch.Vmx;

/// <summary>
/// The allowed settings of one 32-bit VMX control field as a capability MSR reports them. Intel SDM Vol. 3D, A.3-A.5:
/// bits 31:0 are the allowed 0-settings (a 1 there means the control must be 1) and bits 63:32 the allowed 1-settings
/// (a 0 there means the control must be 0).
/// </summary>
public readonly record struct VmxControlCapability(uint Allowed0, uint Allowed1)
{
    /// <summary>The MSR value: allowed 0-settings in the low half, allowed 1-settings in the high half.</summary>
    public ulong MsrValue => Allowed0 | ((ulong)Allowed1 << 32);

    public static VmxControlCapability FromMsr(ulong msr) => new((uint)msr, (uint)(msr >> 32));

    /// <summary>Whether a control value sets every must-be-1 bit and no must-be-0 bit (SDM 27.2.1.1, 27.2.1.2, 27.2.1.3).</summary>
    public bool Permits(uint value) => (value & Allowed0) == Allowed0 && (value & ~Allowed1) == 0;

    /// <summary>Whether a control may be 1.</summary>
    public bool MayBeOne(uint bit) => (Allowed1 & bit) == bit;

    /// <summary>The nearest permitted value: forces must-be-1 bits on and must-be-0 bits off, as VMMs do when they set up a VMCS.</summary>
    public uint Adjust(uint requested) => (requested | Allowed0) & Allowed1;
}
