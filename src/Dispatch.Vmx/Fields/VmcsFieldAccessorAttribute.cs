namespace Dispatch.Vmx;

/// <summary>
/// Declares a typed view of one VMCS field; the Dispatch source generator implements it. Put it on a
/// <c>partial</c> property of a partial type that holds exactly one <see cref="Vmcs"/> (an instance field or property):
/// <code>
/// [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; }
/// </code>
/// The property's type must be the field's width: <see cref="ushort"/> for 16-bit fields, <see cref="uint"/> for
/// 32-bit fields and for the high-access encoding of a 64-bit field, <see cref="ulong"/> for 64-bit and natural-width
/// fields. Exit-information fields are read-only: such a view has a getter only. Mistakes are compile-time errors
/// (DSP0017-DSP0020).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class VmcsFieldAccessorAttribute(VmcsField field) : Attribute
{
    /// <summary>The field this property reads and writes.</summary>
    public VmcsField Field { get; } = field;
}
