namespace Dispatch;

/// <summary>
/// A segment register with its hidden part, in the VMCS's layout: access rights as in the guest-state area
/// (Intel SDM Vol. 3C, 25.4.1, Table 25-2): bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
/// </summary>
public struct SegmentRegister
{
    public const uint UnusableBit = 1u << 16;

    public ushort Selector;
    public ulong Base;
    public uint Limit;
    public uint AccessRights;

    public readonly int Dpl => (int)((AccessRights >> 5) & 3);
    public readonly bool IsLong => (AccessRights & (1u << 13)) != 0;
    public readonly bool IsPresent => (AccessRights & (1u << 7)) != 0;
    public readonly bool IsUnusable => (AccessRights & UnusableBit) != 0;

    /// <summary>A flat 64-bit code segment (type 0xB, S, P, L) at the given privilege level.</summary>
    public static SegmentRegister FlatCode64(ushort selector, int dpl) =>
        new() { Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, AccessRights = 0xB | 0x10 | ((uint)dpl << 5) | 0x80 | 0x2000 | 0x8000 };

    /// <summary>A flat writable data segment (type 3, S, P, D/B, G).</summary>
    public static SegmentRegister FlatData(ushort selector, int dpl) =>
        new() { Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, AccessRights = 0x3 | 0x10 | ((uint)dpl << 5) | 0x80 | 0x4000 | 0x8000 };

    /// <summary>A busy 64-bit TSS (type 0xB, P).</summary>
    public static SegmentRegister Tss64(ushort selector, ulong @base, uint limit) =>
        new() { Selector = selector, Base = @base, Limit = limit, AccessRights = 0xB | 0x80 };

    /// <summary>A null selector marked unusable, as VM entry accepts for DS, ES, FS, GS and LDTR.</summary>
    public static SegmentRegister Unusable => new() { AccessRights = UnusableBit };
}
