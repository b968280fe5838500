namespace Dispatch.Generators.Models;

/// <summary>The field that narrows a handler to one value of its exit reason.</summary>
internal enum RefinementKind
{
    None,
    Port,
    Msr,
    Leaf,
    ControlRegister,
    Vector,
}

/// <summary>What the generated dispatcher passes for one handler parameter.</summary>
internal enum ArgumentKind
{
    ContextByRef,
    ContextByIn,
    ContextByValue,
    IoQualification,
    CrAccessQualification,
    MovDrQualification,
    EptViolationQualification,
    InterruptionInfo,
    ExitReasonField,
    VCpu,
    RegistersByRef,
    RegistersByIn,
    Vmcs,
}

/// <summary>
/// One <c>[ExitHandler]</c> use: the basic reason and, when refined, the refining value. For CPUID a subleaf may
/// refine the leaf further.
/// </summary>
internal sealed record Registration(
    int Reason,
    string ReasonName,
    RefinementKind Refinement,
    uint Value,
    bool HasSubleaf,
    uint Subleaf);

/// <summary>
/// One type declaration of the chain from the outermost containing type to the dispatcher type, as the generated file
/// reopens it: <c>{Modifiers}partial {Keyword} {Name}</c>, e.g. <c>readonly partial record struct Handlers</c>.
/// </summary>
internal sealed record TypeDeclaration(string Modifiers, string Keyword, string Name);

/// <summary>Where the dispatcher type lives: enough text to reopen it as a partial type and to name its output file.</summary>
internal sealed record TypeHierarchy(
    string MetadataName,
    string Namespace,
    EquatableArray<TypeDeclaration> Types)
{
    /// <summary>The simple name of the dispatcher type.</summary>
    public string Name => Types[Types.Length - 1].Name;
}

/// <summary>A handler method as the generated code calls it.</summary>
internal sealed record HandlerMethod(
    TypeHierarchy Type,
    string Name,
    bool IsStatic,
    bool ReturnsVoid,
    bool IsDefault,
    EquatableArray<ArgumentKind> Arguments,
    EquatableArray<Registration> Registrations);

/// <summary>Everything the emitter needs for one dispatcher type.</summary>
internal sealed record DispatcherModel(
    TypeHierarchy Type,
    EquatableArray<HandlerMethod> Handlers,
    HandlerMethod? Default,
    string? Failure);
