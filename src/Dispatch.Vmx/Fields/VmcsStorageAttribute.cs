namespace Dispatch.Vmx;

/// <summary>
/// Asks the Dispatch source generator to implement the storage of a VMCS in this partial class from a field table: an
/// enum whose members are valued by their architectural component encodings (<see cref="VmcsField"/>). It generates one
/// 64-bit slot per full field, a typed property per full field (16-bit fields as <see cref="ushort"/>, 32-bit as
/// <see cref="uint"/>, 64-bit and natural-width as <see cref="ulong"/>; exit-information fields with an internal setter),
/// the encoding-to-slot map that VMREAD and VMWRITE use, and <c>Read</c>, <c>Write</c>, <c>TryRead</c>, <c>TryWrite</c>,
/// <c>IsSupported</c>, <c>ClearFields</c> and the <c>Version</c> write counter. Width, type and access type come from
/// the encoding bits alone, so a field's storage, width and C# type cannot disagree.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class VmcsStorageAttribute(Type fieldTable) : Attribute
{
    /// <summary>The enum of component encodings the storage is generated from.</summary>
    public Type FieldTable { get; } = fieldTable;
}
