namespace Dispatch.Vmx;

/// <summary>
/// The access-rights format of the guest segment fields (0x4814-0x4822). Intel SDM Vol. 3C, 25.4.1, Table 25-2:
/// 3:0 type, 4 S (code/data), 6:5 DPL, 7 P, 11:8 reserved, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable, 31:17 reserved.
/// </summary>
public readonly record struct SegmentAccessRights(uint Raw)
{
    /// <summary>Bits 11:8 and 31:17, which VM entry requires to be 0 (SDM 27.3.1.2).</summary>
    public const uint ReservedMask = 0xFFFE_0F00;
    public const uint UnusableBit = 1u << 16;

    public uint Type => Raw & 0xF;
    public bool IsCodeOrData => (Raw & (1u << 4)) != 0;
    public int Dpl => (int)((Raw >> 5) & 3);
    public bool Present => (Raw & (1u << 7)) != 0;
    public bool LongMode => (Raw & (1u << 13)) != 0;
    public bool DefaultBig => (Raw & (1u << 14)) != 0;
    public bool Granularity => (Raw & (1u << 15)) != 0;
    public bool Unusable => (Raw & UnusableBit) != 0;
    public bool HasReservedBits => (Raw & ReservedMask) != 0;

    /// <summary>Type bit 3: a code segment.</summary>
    public bool IsCode => (Type & 8) != 0;
    /// <summary>Type bit 0: accessed.</summary>
    public bool Accessed => (Type & 1) != 0;
}

/// <summary>The guest segment registers in VMCS order: each field group (selector, limit, access rights, base) is indexed the same way.</summary>
public enum SegmentRegister : byte
{
    Es, Cs, Ss, Ds, Fs, Gs, Ldtr, Tr,
}

/// <summary>Typed access to one guest segment's four VMCS fields (SDM Vol. 3C, 25.4.1).</summary>
public readonly struct GuestSegment
{
    private readonly Vmcs _vmcs;
    private readonly uint _index;
    private readonly VmEntryReadLog? _log;

    public GuestSegment(Vmcs vmcs, SegmentRegister register)
    {
        _vmcs = vmcs;
        _index = (uint)register * 2;
    }

    /// <summary>A segment whose reads are recorded in <paramref name="log"/> (a VM-entry check's inputs).</summary>
    internal GuestSegment(Vmcs vmcs, SegmentRegister register, VmEntryReadLog? log) : this(vmcs, register) => _log = log;

    public ushort Selector => (ushort)Read(VmcsField.GuestEsSelector);
    public uint Limit => (uint)Read(VmcsField.GuestEsLimit);
    public SegmentAccessRights AccessRights => new((uint)Read(VmcsField.GuestEsAccessRights));
    public ulong Base => Read(VmcsField.GuestEsBase);

    /// <summary>Reads this segment's field of the group that <paramref name="esField"/> (the ES member) starts.</summary>
    private ulong Read(VmcsField esField)
    {
        var field = (VmcsField)((uint)esField + _index);
        ulong value = _vmcs.Read(field);
        _log?.Record(field);
        return value;
    }

    public bool Usable => !AccessRights.Unusable;
    public int Rpl => Selector & 3;

    /// <summary>Limit bits 11:0 all 1 when G is 1, limit bits 31:20 all 0 when G is 0 (SDM 27.3.1.2).</summary>
    public bool LimitMatchesGranularity
    {
        get
        {
            uint limit = Limit;
            bool g = AccessRights.Granularity;
            if ((limit & 0xFFF) != 0xFFF && g) return false;
            if ((limit & 0xFFF0_0000) != 0 && !g) return false;
            return true;
        }
    }

    public void Set(ushort selector, ulong @base, uint limit, uint accessRights)
    {
        _vmcs.Write((VmcsField)((uint)VmcsField.GuestEsSelector + _index), selector);
        _vmcs.Write((VmcsField)((uint)VmcsField.GuestEsBase + _index), @base);
        _vmcs.Write((VmcsField)((uint)VmcsField.GuestEsLimit + _index), limit);
        _vmcs.Write((VmcsField)((uint)VmcsField.GuestEsAccessRights + _index), accessRights);
    }
}
