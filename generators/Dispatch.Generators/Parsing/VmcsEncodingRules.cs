namespace Dispatch.Generators.Parsing;

/// <summary>Bits 14:13 of a VMCS component encoding.</summary>
internal enum VmcsWidth
{
    Bits16 = 0,
    Bits64 = 1,
    Bits32 = 2,
    NaturalWidth = 3,
}

/// <summary>
/// The layout of a VMCS component encoding (Intel SDM Vol. 3C, 25.11.2): bit 0 access type (1 = high), bits 9:1 index,
/// bits 11:10 type (1 = VM-exit information, read-only), bit 12 reserved, bits 14:13 width, bits 31:15 reserved.
/// The runtime's <c>Dispatch.Vmx.VmcsEncoding</c> decodes the same bits; the generator cannot reference the runtime, and a
/// test checks that both agree on every field of the table.
/// </summary>
internal static class VmcsEncodingRules
{
    public const uint ReservedMask = 0xFFFF_9000;

    public static VmcsWidth Width(uint encoding) => (VmcsWidth)((encoding >> 13) & 3);

    public static int Type(uint encoding) => (int)((encoding >> 10) & 3);

    public static int Index(uint encoding) => (int)((encoding >> 1) & 0x1FF);

    public static bool IsHighAccess(uint encoding) => (encoding & 1) != 0;

    public static bool IsReadOnly(uint encoding) => Type(encoding) == 1;

    /// <summary>The C# type of a value of the field as VMREAD sees it in 64-bit mode: a high access is 32 bits wide.</summary>
    public static string CSharpType(uint encoding) => IsHighAccess(encoding) ? "uint" : Width(encoding) switch
    {
        VmcsWidth.Bits16 => "ushort",
        VmcsWidth.Bits32 => "uint",
        _ => "ulong",
    };

    /// <summary>E.g. "natural-width guest-state" or "high half of a 64-bit control".</summary>
    public static string Describe(uint encoding)
    {
        string type = Type(encoding) switch
        {
            0 => "control",
            1 => "VM-exit information",
            2 => "guest-state",
            _ => "host-state",
        };
        string width = Width(encoding) switch
        {
            VmcsWidth.Bits16 => "16-bit",
            VmcsWidth.Bits32 => "32-bit",
            VmcsWidth.Bits64 => "64-bit",
            _ => "natural-width",
        };
        return IsHighAccess(encoding) ? $"high half of a {width} {type}" : $"{width} {type}";
    }
}
