namespace Dispatch;

/// <summary>
/// The part of the guest state in the VMCS that instructions change rarely: control registers, DR7, segment registers,
/// descriptor tables and the MSRs the guest-state area holds. The vCPU keeps the copy it last loaded or saved, so a save
/// can be skipped when nothing changed.
/// </summary>
internal struct SystemState
{
    public ulong Cr0, Cr3, Cr4, Dr7, Efer, Pat, Debugctl, SysenterCs, SysenterEsp, SysenterEip, GdtrBase, IdtrBase;
    public uint GdtrLimit, IdtrLimit;
    public SegmentRegister Es, Cs, Ss, Ds, Fs, Gs, Ldtr, Tr;
}
