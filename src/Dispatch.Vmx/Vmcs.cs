namespace Dispatch.Vmx;

/// <summary>
/// The storage of one virtual-machine control structure: one 64-bit slot per full field of <see cref="VmcsField"/>.
/// <para>
/// The source generator derives the storage from the field table (<see cref="VmcsStorageAttribute"/>): a typed property
/// per field (<c>vmcs.GuestRip</c>, <c>vmcs.GuestCsSelector</c>, ...), the encoding-to-slot map and the members below.
/// <see cref="Read(VmcsField)"/> and <see cref="Write(VmcsField, ulong)"/> are the processor's own access (used when the
/// model records a VM exit or loads guest state): they ignore the read-only rule but still truncate to the field's width.
/// The VMREAD and VMWRITE instructions, with their VM-instruction errors, are layered on top (<see cref="VmxProcessor"/>).
/// </para>
/// </summary>
[VmcsStorage(typeof(VmcsField))]
public sealed partial class Vmcs
{
    /// <summary>The launch state of this VMCS; it belongs to the VMCS, not to the processor (SDM Vol. 3C, 25.1).</summary>
    public VmcsLaunchState LaunchState { get; internal set; }

    /// <summary>
    /// Set when VMXOFF leaves VMX operation while this VMCS is launched; VMCLEAR and VMLAUNCH reset it. A VMRESUME of
    /// such a VMCS fails with VM-instruction error 6 (SDM Vol. 3C, 31.4: "VMRESUME after VMXOFF").
    /// </summary>
    internal bool LaunchedBeforeVmxoff { get; set; }

    public uint Read32(VmcsField field) => (uint)Read(field);
}
