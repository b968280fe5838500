using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

/// <summary>
/// The storage of one virtual-machine control structure: one 64-bit slot per field of <see cref="VmcsField"/>.
/// <para>
/// <see cref="Read(VmcsField)"/> and <see cref="Write(VmcsField, ulong)"/> are the processor's own access (used when the
/// model records a VM exit or loads guest state): they ignore the read-only rule but still truncate to the field's width.
/// The VMREAD and VMWRITE instructions, with their VM-instruction errors, are layered on top.
/// </para>
/// </summary>
public sealed partial class Vmcs
{
    private readonly ulong[] _values = new ulong[VmcsLayout.SlotCount];

    /// <summary>Reads a field (a high-access encoding reads the upper 32 bits of its 64-bit field).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read(VmcsField field)
    {
        uint encoding = (uint)field;
        int slot = VmcsLayout.SlotOf(encoding);
        if (slot < 0) ThrowUnsupported(field);
        ulong value = _values[slot];
        return VmcsEncoding.IsHighAccess(encoding) ? value >> 32 : value;
    }

    /// <summary>Writes a field, truncating the value to the field's width. A high access writes the upper 32 bits only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(VmcsField field, ulong value)
    {
        uint encoding = (uint)field;
        int slot = VmcsLayout.SlotOf(encoding);
        if (slot < 0) ThrowUnsupported(field);
        ref ulong target = ref _values[slot];
        Version++;
        if (VmcsEncoding.IsHighAccess(encoding))
            target = (target & 0xFFFF_FFFF) | (value << 32);
        else
            target = value & VmcsEncoding.ValueMask(encoding);
    }

    public uint Read32(VmcsField field) => (uint)Read(field);

    /// <summary>Sets every field to zero.</summary>
    public void ClearFields()
    {
        Array.Clear(_values);
        Version++;
    }

    /// <summary>
    /// Incremented by every write. A VMM (or the engine) compares it with a value it remembered to learn, at the cost of one
    /// load, whether anyone changed the VMCS since: the engine skips re-checking and re-loading an unchanged VMCS.
    /// </summary>
    public long Version { get; private set; }

    private static void ThrowUnsupported(VmcsField field) =>
        throw new ArgumentOutOfRangeException(nameof(field), $"0x{(uint)field:X4} is not a VMCS component encoding this model supports.");
}
