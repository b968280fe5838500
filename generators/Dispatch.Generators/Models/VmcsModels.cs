namespace Dispatch.Generators.Models;

/// <summary>One member of a VMCS field table: its name and its architectural encoding.</summary>
internal sealed record VmcsFieldEntry(string Name, uint Encoding);

/// <summary>Everything the storage emitter needs: the class to fill in, the field table's type and its valid members.</summary>
internal sealed record VmcsStorageModel(
    TypeHierarchy Type,
    string FieldTableType,
    EquatableArray<VmcsFieldEntry> Fields);

/// <summary>
/// One user-declared typed view of a VMCS field, as text ready to emit. <see cref="Getter"/> and <see cref="Setter"/> are
/// the accessor bodies (expressions), <see cref="SetterKeyword"/> is <c>set</c> or <c>init</c> as declared; a declaration with an error gets bodies that throw, so the partial property still
/// has its implementation and only the DSP diagnostic shows.
/// </summary>
internal sealed record VmcsAccessorModel(
    TypeHierarchy Type,
    string Modifiers,
    string PropertyType,
    string Name,
    string? GetterModifiers,
    string? Getter,
    string? SetterKeyword,
    string? SetterModifiers,
    string? Setter);

/// <summary>All the typed views declared in one type.</summary>
internal sealed record VmcsAccessorsModel(TypeHierarchy Type, EquatableArray<VmcsAccessorModel> Accessors);
