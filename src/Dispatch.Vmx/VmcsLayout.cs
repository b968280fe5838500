using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

/// <summary>
/// Maps an encoding to its storage slot, derived once from <see cref="VmcsField"/> so storage and encodings cannot disagree.
/// The key drops the access-type bit and the reserved bits: (width, type, index) is 13 bits, a 16 KiB table.
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
        int slot = s_slotByKey[(encoding >> 1) & 0x1FFF];
        // A high access exists only for 64-bit fields.
        if (VmcsEncoding.IsHighAccess(encoding) && VmcsEncoding.Width(encoding) != VmcsFieldWidth.Bits64) return -1;
        return slot;
    }

    private static short[] BuildSlots(out int count)
    {
        var table = new short[1 << 13];
        Array.Fill(table, (short)-1);
        short next = 0;
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
        {
            uint encoding = (uint)field;
            if (VmcsEncoding.IsHighAccess(encoding)) continue;
            table[(encoding >> 1) & 0x1FFF] = next++;
        }
        count = next;
        return table;
    }
}
