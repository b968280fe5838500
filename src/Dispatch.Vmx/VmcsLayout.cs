using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

/// <summary>
/// Maps an encoding to its storage slot, derived once from <see cref="VmcsField"/> so storage and encodings cannot disagree.
/// The key drops the access-type bit and the reserved bits: (width, type, index) is 13 bits, a 16 KiB table.
/// Width sits in encoding bits 14:13, above reserved bit 12, so it is moved down next to the type rather than masked in place
/// (masking bits 13:1 would drop the upper width bit and make 16-bit and 32-bit fields share slots).
/// </summary>
internal static class VmcsLayout
{
    private static readonly short[] s_slotByKey = BuildSlots(out s_slotCount);
    private static readonly int s_slotCount;

    public static int SlotCount => s_slotCount;

    /// <summary>The slot of an encoding, or -1 when the model does not support it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SlotOf(uint encoding)
    {
        if (VmcsEncoding.HasReservedBits(encoding)) return -1;
        int slot = s_slotByKey[Key(encoding)];
        // A high access exists only for 64-bit fields.
        if (VmcsEncoding.IsHighAccess(encoding) && VmcsEncoding.Width(encoding) != VmcsFieldWidth.Bits64) return -1;
        return slot;
    }

    /// <summary>Index (9 bits) and type (2 bits) from encoding bits 11:1, width (2 bits) from bits 14:13.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Key(uint encoding) => (int)(((encoding >> 1) & 0x7FF) | (((encoding >> 13) & 3) << 11));

    private static short[] BuildSlots(out int count)
    {
        var table = new short[1 << 13];
        Array.Fill(table, (short)-1);
        short next = 0;
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
        {
            uint encoding = (uint)field;
            if (VmcsEncoding.IsHighAccess(encoding)) continue;
            table[Key(encoding)] = next++;
        }
        count = next;
        return table;
    }
}
