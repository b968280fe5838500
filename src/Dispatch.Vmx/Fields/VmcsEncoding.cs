namespace Dispatch.Vmx;

/// <summary>Bits 14:13 of a VMCS component encoding.</summary>
public enum VmcsFieldWidth : byte
{
    Bits16 = 0,
    Bits64 = 1,
    Bits32 = 2,
    NaturalWidth = 3,
}

/// <summary>Bits 11:10 of a VMCS component encoding.</summary>
public enum VmcsFieldType : byte
{
    Control = 0,
    /// <summary>VM-exit information ("read-only data"): VMWRITE needs IA32_VMX_MISC bit 29.</summary>
    ExitInformation = 1,
    GuestState = 2,
    HostState = 3,
}

/// <summary>
/// Decodes the parts of a 32-bit VMCS component encoding. Intel SDM Vol. 3C, 25.11.2 "VMREAD, VMWRITE, and Encodings of
/// VMCS Fields": bit 0 access type (0 full, 1 high), bits 9:1 index, bits 11:10 type, bit 12 reserved (0),
/// bits 14:13 width, bits 31:15 reserved (0).
/// </summary>
public static class VmcsEncoding
{
    /// <summary>Bits that are reserved in every encoding (31:15 and 12).</summary>
    public const uint ReservedMask = 0xFFFF_9000;

    public static VmcsFieldWidth Width(uint encoding) => (VmcsFieldWidth)((encoding >> 13) & 3);

    public static VmcsFieldType Type(uint encoding) => (VmcsFieldType)((encoding >> 10) & 3);

    public static int Index(uint encoding) => (int)((encoding >> 1) & 0x1FF);

    /// <summary>Bit 0: the encoding names the upper 32 bits of a 64-bit field.</summary>
    public static bool IsHighAccess(uint encoding) => (encoding & 1) != 0;

    public static bool HasReservedBits(uint encoding) => (encoding & ReservedMask) != 0;

    /// <summary>The encoding of the whole field that an encoding (full or high) belongs to.</summary>
    public static uint FullEncoding(uint encoding) => encoding & ~1u;

    public static VmcsFieldWidth Width(this VmcsField field) => Width((uint)field);

    public static VmcsFieldType Type(this VmcsField field) => Type((uint)field);

    public static bool IsHighAccess(this VmcsField field) => IsHighAccess((uint)field);

    /// <summary>Width of the field in bits as seen by VMREAD in 64-bit mode (natural width is 64; a high access is 32).</summary>
    public static int BitWidth(uint encoding) => IsHighAccess(encoding) ? 32 : Width(encoding) switch
    {
        VmcsFieldWidth.Bits16 => 16,
        VmcsFieldWidth.Bits32 => 32,
        _ => 64,
    };

    /// <summary>Mask of the bits a field can hold.</summary>
    public static ulong ValueMask(uint encoding) => BitWidth(encoding) switch
    {
        16 => 0xFFFF,
        32 => 0xFFFF_FFFF,
        _ => ulong.MaxValue,
    };
}
