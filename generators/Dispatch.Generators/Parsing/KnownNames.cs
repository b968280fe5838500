using Microsoft.CodeAnalysis;

namespace Dispatch.Generators.Parsing;

/// <summary>
/// Metadata names of the runtime contract. The generator never references the runtime assemblies (they target a .NET the
/// compiler host may not run), so it recognises their types by name.
/// </summary>
internal static class KnownNames
{
    public const string ExitHandlerAttribute = "Dispatch.ExitHandlerAttribute";
    public const string DefaultExitHandlerAttribute = "Dispatch.DefaultExitHandlerAttribute";

    public const string VmcsStorageAttribute = "Dispatch.Vmx.VmcsStorageAttribute";
    public const string VmcsFieldAccessorAttribute = "Dispatch.Vmx.VmcsFieldAccessorAttribute";
    public const string VmcsTypeName = "Vmcs";

    public const string DispatchNamespace = "Dispatch";
    public const string VmxNamespace = "Dispatch.Vmx";

    public const int ExceptionOrNmi = 0;
    public const int ExternalInterrupt = 1;
    public const int Cpuid = 10;
    public const int CrAccess = 28;
    public const int MovDr = 29;
    public const int IoInstruction = 30;
    public const int Rdmsr = 31;
    public const int Wrmsr = 32;
    public const int EptViolation = 48;

    /// <summary>Basic reasons the processor reports only with the VM-entry failure bit (31) set.</summary>
    public static bool IsEntryFailureReason(int reason) => reason is 33 or 34 or 41;

    /// <summary>Whether <paramref name="type"/> is <c>{ns}.{name}</c> (a top-level type).</summary>
    public static bool Is(ITypeSymbol? type, string ns, string name) =>
        type is INamedTypeSymbol { ContainingType: null } named
        && named.Name == name
        && named.ContainingNamespace?.ToDisplayString() == ns;

    public static bool IsAttribute(AttributeData attribute, string metadataName)
    {
        INamedTypeSymbol? type = attribute.AttributeClass;
        if (type is null)
            return false;
        int dot = metadataName.LastIndexOf('.');
        return Is(type, metadataName.Substring(0, dot), metadataName.Substring(dot + 1));
    }
}
