using System.Runtime.InteropServices;

namespace Dispatch;

/// <summary>
/// The part of the guest state in the VMCS that instructions change rarely: control registers, DR7, segment registers,
/// descriptor tables and the MSRs the guest-state area holds. Compared as bytes, so a save can be skipped when nothing
/// changed.
/// </summary>
internal struct SystemState
{
    public ulong Cr0, Cr3, Cr4, Dr7, Efer, Pat, Debugctl, SysenterCs, SysenterEsp, SysenterEip, GdtrBase, IdtrBase;
    public uint GdtrLimit, IdtrLimit;
    public SegmentRegister Es, Cs, Ss, Ds, Fs, Gs, Ldtr, Tr;

    /// <summary>
    /// Byte-wise equality. Padding takes part too: at worst two equal states compare unequal and the save is not skipped.
    /// </summary>
    public readonly bool SameAs(in SystemState other) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<SystemState>(in this)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<SystemState>(in other)));
}
