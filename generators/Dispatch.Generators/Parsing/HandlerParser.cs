using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Dispatch.Generators.Diagnostics;
using Dispatch.Generators.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Dispatch.Generators.Parsing;

/// <summary>One valid <c>[ExitHandler]</c> use and the attribute it came from (for diagnostics).</summary>
internal readonly record struct ParsedRegistration(Registration Registration, AttributeData Attribute);

/// <summary>What the parser learned about one attributed method; the analyzer reads all of it, the generator the model.</summary>
internal sealed class ParsedHandler
{
    public ParsedHandler(IMethodSymbol method) => Method = method;

    public IMethodSymbol Method { get; }
    public List<ParsedRegistration> Registrations { get; } = new();
    public AttributeData? DefaultAttribute { get; set; }
    public bool IsCallable { get; set; } = true;
}

/// <summary>
/// Reads handler methods and their dispatcher types from symbols. Shared by the generator (which drops what is invalid)
/// and the analyzer (which reports why): both see the same rules.
/// </summary>
internal static class HandlerParser
{
    /// <summary>Checks the dispatcher type and its containing types; false when no Dispatch method can be generated.</summary>
    public static bool CheckType(INamedTypeSymbol type, List<Diagnostic>? diagnostics, CancellationToken ct)
    {
        bool ok = true;
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            ct.ThrowIfCancellationRequested();
            if (!IsPartial(t, ct))
            {
                ok = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.TypeNotPartial, LocationOf(type),
                    t.ToDisplayString(), type.ToDisplayString()));
            }
            if (t.TypeParameters.Length > 0)
            {
                ok = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.GenericType, LocationOf(type), t.ToDisplayString()));
            }
        }
        if (UserDeclaredDispatch(type) is { } existing)
        {
            ok = false;
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.DispatchAlreadyDeclared, LocationOf(existing), type.ToDisplayString()));
        }
        return ok && type.TypeKind is TypeKind.Class or TypeKind.Struct && !type.IsStatic;
    }

    /// <summary>A <c>Dispatch(ref ExitContext)</c> the user wrote (not the generated one), which the generated method would clash with.</summary>
    private static IMethodSymbol? UserDeclaredDispatch(INamedTypeSymbol type) =>
        type.GetMembers("Dispatch").OfType<IMethodSymbol>().FirstOrDefault(m =>
            m.Parameters.Length == 1
            && KnownNames.Is(m.Parameters[0].Type, KnownNames.DispatchNamespace, "ExitContext")
            && !m.GetAttributes().Any(a => a.AttributeClass?.Name == "GeneratedCodeAttribute"
                && a.ConstructorArguments.Length > 0 && a.ConstructorArguments[0].Value as string == "Dispatch.Generators"));

    /// <summary>Reads one method: its registrations, its default-handler attribute, and whether it can be called.</summary>
    public static ParsedHandler ParseMethod(IMethodSymbol method, List<Diagnostic>? diagnostics, CancellationToken ct)
    {
        var parsed = new ParsedHandler(method);
        foreach (AttributeData attribute in method.GetAttributes())
        {
            if (KnownNames.IsAttribute(attribute, KnownNames.DefaultExitHandlerAttribute))
                parsed.DefaultAttribute ??= attribute;
            else if (KnownNames.IsAttribute(attribute, KnownNames.ExitHandlerAttribute)
                && ReadRegistration(attribute, diagnostics) is { } registration)
                parsed.Registrations.Add(new ParsedRegistration(registration, attribute));
        }
        ct.ThrowIfCancellationRequested();

        string? notCallable = WhyNotCallable(method);
        if (notCallable is not null)
        {
            parsed.IsCallable = false;
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.HandlerNotCallable, LocationOf(method), method.Name, notCallable));
        }

        if (!method.ReturnsVoid && (method.RefKind != RefKind.None || !KnownNames.Is(method.ReturnType, KnownNames.DispatchNamespace, "ExitAction")))
        {
            parsed.IsCallable = false;
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.UnsupportedReturnType, LocationOf(method),
                method.Name, method.ReturnType.ToDisplayString()));
        }

        foreach (IParameterSymbol parameter in method.Parameters)
        {
            ArgumentKind? kind = Bind(parameter);
            if (kind is null)
            {
                parsed.IsCallable = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.UnbindableParameter, LocationOf(parameter),
                    parameter.Name, Describe(parameter)));
                continue;
            }
            if (QualificationReasons(kind.Value) is { } allowed)
            {
                string? misfit = parsed.Registrations.Select(r => r.Registration)
                    .FirstOrDefault(r => !allowed.Reasons.Contains(r.Reason))?.ReasonName;
                if (misfit is null && parsed.DefaultAttribute is not null && !allowed.AllowsDefault)
                    misfit = "every other exit as the default handler";
                if (misfit is not null)
                {
                    parsed.IsCallable = false;
                    diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.QualificationMismatch, LocationOf(parameter),
                        parameter.Name, parameter.Type.Name, allowed.Names, method.Name, misfit));
                }
            }
        }
        return parsed;
    }

    /// <summary>The generator's view of a parsed method: null when the generated code must not call it.</summary>
    public static HandlerMethod? ToModel(ParsedHandler parsed, TypeHierarchy type)
    {
        if (!parsed.IsCallable)
            return null;
        IMethodSymbol method = parsed.Method;
        var arguments = new ArgumentKind[method.Parameters.Length];
        for (int i = 0; i < arguments.Length; i++)
            arguments[i] = Bind(method.Parameters[i])!.Value;
        return new HandlerMethod(
            type,
            method.Name,
            method.IsStatic,
            method.ReturnsVoid,
            parsed.DefaultAttribute is not null,
            new EquatableArray<ArgumentKind>(arguments),
            parsed.Registrations.Select(r => r.Registration).ToEquatableArray());
    }

    public static TypeHierarchy GetHierarchy(INamedTypeSymbol type)
    {
        var chain = new List<TypeDeclaration>();
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
            chain.Add(Declaration(t));
        chain.Reverse();

        string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : "";
        string metadataName = string.Join("+", chain.Select(d => d.Name));
        return new TypeHierarchy(ns.Length == 0 ? metadataName : ns + "." + metadataName, ns, chain.ToEquatableArray());
    }

    private static TypeDeclaration Declaration(INamedTypeSymbol type)
    {
        string modifiers = "";
        if (type.TypeKind == TypeKind.Struct)
        {
            if (type.IsReadOnly)
                modifiers += "readonly ";
            if (type.IsRefLikeType)
                modifiers += "ref ";
        }
        else if (type.IsStatic)
        {
            modifiers = "static ";
        }
        string keyword = (type.TypeKind, type.IsRecord) switch
        {
            (TypeKind.Struct, true) => "record struct",
            (TypeKind.Struct, false) => "struct",
            (TypeKind.Interface, _) => "interface",
            (_, true) => "record",
            _ => "class",
        };
        return new TypeDeclaration(modifiers, keyword, type.Name);
    }

    private static Registration? ReadRegistration(AttributeData attribute, List<Diagnostic>? diagnostics)
    {
        if (attribute.ConstructorArguments.Length != 1)
            return null;
        TypedConstant reasonArgument = attribute.ConstructorArguments[0];
        if (reasonArgument.Kind != TypedConstantKind.Enum || reasonArgument.Value is null || reasonArgument.Type is not INamedTypeSymbol enumType)
            return null;

        int reason = Convert.ToInt32(reasonArgument.Value);
        string? reasonName = enumType.GetMembers().OfType<IFieldSymbol>()
            .FirstOrDefault(f => f.HasConstantValue && Convert.ToInt32(f.ConstantValue) == reason)?.Name;
        if (reasonName is null)
        {
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.UndefinedExitReason, LocationOf(attribute), "(ExitReason)" + reason));
            return null;
        }
        if (KnownNames.IsEntryFailureReason(reason))
        {
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.EntryFailureReason, LocationOf(attribute), reasonName));
            return null;
        }

        bool valid = true;
        RefinementKind refinement = RefinementKind.None;
        uint value = 0;
        bool hasLeaf = false, hasSubleaf = false;
        uint subleaf = 0;
        foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
        {
            if (named.Value.Value is null || named.Value.Kind == TypedConstantKind.Error)
                return null;
            long raw = Convert.ToInt64(named.Value.Value);
            (RefinementKind kind, int[] reasons, string reasonNames, long max) = named.Key switch
            {
                "Port" => (RefinementKind.Port, new[] { KnownNames.IoInstruction }, "IoInstruction", 0xFFFF),
                "Msr" => (RefinementKind.Msr, new[] { KnownNames.Rdmsr, KnownNames.Wrmsr }, "Rdmsr and Wrmsr", uint.MaxValue),
                "Leaf" or "Subleaf" => (RefinementKind.Leaf, new[] { KnownNames.Cpuid }, "Cpuid", uint.MaxValue),
                "ControlRegister" => (RefinementKind.ControlRegister, new[] { KnownNames.CrAccess }, "CrAccess", 15),
                "Vector" => (RefinementKind.Vector, new[] { KnownNames.ExceptionOrNmi }, "ExceptionOrNmi", 255),
                _ => (RefinementKind.None, Array.Empty<int>(), "", 0L),
            };
            if (kind == RefinementKind.None)
                continue;
            if (!reasons.Contains(reason))
            {
                valid = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.RefinementNotApplicable, LocationOf(attribute), named.Key, reasonName, reasonNames));
                continue;
            }
            if (raw < 0 || raw > max)
            {
                valid = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.RefinementOutOfRange, LocationOf(attribute), named.Key, raw, max));
                continue;
            }
            if (named.Key == "Subleaf")
            {
                hasSubleaf = true;
                subleaf = (uint)raw;
                continue;
            }
            hasLeaf |= named.Key == "Leaf";
            refinement = kind;
            value = (uint)raw;
        }
        if (hasSubleaf && !hasLeaf && reason == KnownNames.Cpuid)
        {
            valid = false;
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.SubleafWithoutLeaf, LocationOf(attribute)));
        }
        return valid ? new Registration(reason, reasonName, refinement, value, hasSubleaf, subleaf) : null;
    }

    private static string? WhyNotCallable(IMethodSymbol method)
    {
        if (method.MethodKind == MethodKind.LocalFunction)
            return "local functions are not members of the type";
        if (method.MethodKind != MethodKind.Ordinary)
            return method.MethodKind == MethodKind.ExplicitInterfaceImplementation
                ? "explicit interface implementations cannot be called by name"
                : "only ordinary methods can be handlers";
        if (method.IsGenericMethod)
            return "generic methods cannot be handlers";
        INamedTypeSymbol type = method.ContainingType;
        if (type.TypeKind == TypeKind.Interface)
            return $"'{type.Name}' is an interface; declare handlers in a partial class or struct";
        if (type.IsStatic)
            return $"'{type.Name}' is a static class, which cannot implement IExitHandler";
        if (method.IsAbstract)
            return "abstract methods have no body to call";
        return null;
    }

    private static ArgumentKind? Bind(IParameterSymbol parameter)
    {
        ITypeSymbol type = parameter.Type;
        RefKind refKind = parameter.RefKind;
        bool byIn = refKind is RefKind.In or RefKind.RefReadOnlyParameter;
        if (KnownNames.Is(type, KnownNames.DispatchNamespace, "ExitContext"))
            return refKind switch
            {
                RefKind.Ref => ArgumentKind.ContextByRef,
                RefKind.None => ArgumentKind.ContextByValue,
                _ when byIn => ArgumentKind.ContextByIn,
                _ => null,
            };
        if (KnownNames.Is(type, KnownNames.DispatchNamespace, "GuestRegisters"))
            return refKind == RefKind.Ref ? ArgumentKind.RegistersByRef : byIn ? ArgumentKind.RegistersByIn : null;
        if (refKind != RefKind.None)
            return null;
        if (KnownNames.Is(type, KnownNames.DispatchNamespace, "VCpu"))
            return ArgumentKind.VCpu;
        if (type is not INamedTypeSymbol { ContainingType: null } || type.ContainingNamespace?.ToDisplayString() != KnownNames.VmxNamespace)
            return null;
        return type.Name switch
        {
            "IoQualification" => ArgumentKind.IoQualification,
            "CrAccessQualification" => ArgumentKind.CrAccessQualification,
            "MovDrQualification" => ArgumentKind.MovDrQualification,
            "EptViolationQualification" => ArgumentKind.EptViolationQualification,
            "InterruptionInfo" => ArgumentKind.InterruptionInfo,
            "ExitReasonField" => ArgumentKind.ExitReasonField,
            "Vmcs" => ArgumentKind.Vmcs,
            _ => null,
        };
    }

    private sealed record AllowedReasons(int[] Reasons, string Names, bool AllowsDefault);

    private static readonly AllowedReasons Io = new(new[] { KnownNames.IoInstruction }, "IoInstruction", false);
    private static readonly AllowedReasons Cr = new(new[] { KnownNames.CrAccess }, "CrAccess", false);
    private static readonly AllowedReasons Dr = new(new[] { KnownNames.MovDr }, "MovDr", false);
    private static readonly AllowedReasons Ept = new(new[] { KnownNames.EptViolation }, "EptViolation", false);
    private static readonly AllowedReasons Interruption =
        new(new[] { KnownNames.ExceptionOrNmi, KnownNames.ExternalInterrupt }, "ExceptionOrNmi, ExternalInterrupt and the default handler", true);

    /// <summary>The reasons whose exit information a parameter kind decodes, or null when it fits every exit.</summary>
    private static AllowedReasons? QualificationReasons(ArgumentKind kind) => kind switch
    {
        ArgumentKind.IoQualification => Io,
        ArgumentKind.CrAccessQualification => Cr,
        ArgumentKind.MovDrQualification => Dr,
        ArgumentKind.EptViolationQualification => Ept,
        ArgumentKind.InterruptionInfo => Interruption,
        _ => null,
    };

    private static string Describe(IParameterSymbol parameter)
    {
        string prefix = parameter.RefKind switch
        {
            RefKind.Ref => "ref ",
            RefKind.Out => "out ",
            RefKind.In => "in ",
            RefKind.RefReadOnlyParameter => "ref readonly ",
            _ => "",
        };
        return prefix + parameter.Type.ToDisplayString();
    }

    public static bool IsPartial(INamedTypeSymbol type, CancellationToken ct)
    {
        foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(ct) is TypeDeclarationSyntax declaration
                && !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                return false;
        }
        return true;
    }

    public static Location LocationOf(ISymbol symbol) => symbol.Locations.FirstOrDefault() ?? Location.None;

    public static Location LocationOf(AttributeData attribute) =>
        attribute.ApplicationSyntaxReference?.GetSyntax().GetLocation() ?? Location.None;
}
