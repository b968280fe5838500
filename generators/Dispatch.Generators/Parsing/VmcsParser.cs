using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Dispatch.Generators.Diagnostics;
using Dispatch.Generators.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Dispatch.Generators.Parsing;

/// <summary>
/// Reads <c>[VmcsStorage]</c> classes and <c>[VmcsFieldAccessor]</c> properties into equatable models. The analyzer passes
/// a diagnostics list and reports what it collects; the generator passes none and only uses the models.
/// </summary>
internal static class VmcsParser
{
    /// <summary>Storage slots are numbered in one byte; 0xFF marks an encoding without a slot.</summary>
    public const int MaxFullFields = 255;

    public static VmcsStorageModel? ParseStorage(INamedTypeSymbol type, AttributeData attribute, List<Diagnostic>? diagnostics, CancellationToken ct)
    {
        Location location = HandlerParser.LocationOf(type);
        string typeName = type.ToDisplayString();
        bool ok = true;
        void Fail(Location at, string subject, string reason)
        {
            ok = false;
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.InvalidVmcsFieldTable, at, subject, reason));
        }

        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (!HandlerParser.IsPartial(t, ct))
                Fail(location, typeName, $"'{t.ToDisplayString()}' is not partial");
            if (t.TypeParameters.Length > 0)
                Fail(location, typeName, $"'{t.ToDisplayString()}' is generic");
        }
        if (type.TypeKind != TypeKind.Class || type.IsStatic)
            Fail(location, typeName, "it is not a non-static class");

        if (attribute.ConstructorArguments.Length != 1
            || attribute.ConstructorArguments[0].Value is not INamedTypeSymbol { TypeKind: TypeKind.Enum } table
            || table.EnumUnderlyingType?.SpecialType != SpecialType.System_UInt32)
        {
            Fail(HandlerParser.LocationOf(attribute), typeName, "the field table is not an enum with underlying type uint");
            return null;
        }

        var fields = new List<VmcsFieldEntry>();
        var byEncoding = new Dictionary<uint, string>();
        var members = table.GetMembers().OfType<IFieldSymbol>().Where(f => f.HasConstantValue).ToList();
        var fullEncodings = new HashSet<uint>(members.Select(f => System.Convert.ToUInt32(f.ConstantValue, CultureInfo.InvariantCulture)).Where(e => !VmcsEncodingRules.IsHighAccess(e)));
        foreach (IFieldSymbol member in members)
        {
            ct.ThrowIfCancellationRequested();
            uint encoding = System.Convert.ToUInt32(member.ConstantValue, CultureInfo.InvariantCulture);
            string subject = table.Name + "." + member.Name;
            Location at = HandlerParser.LocationOf(member);
            string hex = "0x" + encoding.ToString("X4", CultureInfo.InvariantCulture);
            if ((encoding & VmcsEncodingRules.ReservedMask) != 0)
                Fail(at, subject, $"{hex} sets reserved bits (31:15 or 12)");
            else if (byEncoding.TryGetValue(encoding, out string? other))
                Fail(at, subject, $"{hex} is already '{other}'");
            else if (VmcsEncodingRules.IsHighAccess(encoding) && VmcsEncodingRules.Width(encoding) != VmcsWidth.Bits64)
                Fail(at, subject, $"{hex} is a high access, which only 64-bit fields have");
            else if (VmcsEncodingRules.IsHighAccess(encoding) && !fullEncodings.Contains(encoding & ~1u))
                Fail(at, subject, $"{hex} is the high access of a field that is not in the table");
            else
            {
                byEncoding.Add(encoding, member.Name);
                fields.Add(new VmcsFieldEntry(member.Name, encoding));
            }
        }
        if (fields.Count(f => !VmcsEncodingRules.IsHighAccess(f.Encoding)) > MaxFullFields)
            Fail(location, typeName, $"the table has more than {MaxFullFields} full fields");

        if (!ok)
            return null;
        return new VmcsStorageModel(
            HandlerParser.GetHierarchy(type),
            table.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            fields.ToEquatableArray());
    }

    /// <summary>
    /// Reads one <c>[VmcsFieldAccessor]</c> property. Returns null when nothing can be generated for it (it is not a partial
    /// declaration in a partial type); a model with throwing bodies when it can be implemented but names a wrong field.
    /// </summary>
    public static VmcsAccessorModel? ParseAccessor(IPropertySymbol property, AttributeData attribute, List<Diagnostic>? diagnostics, CancellationToken ct)
    {
        PropertyDeclarationSyntax? declaration = FindDeclaration(property, ct);
        Location location = declaration?.Identifier.GetLocation() ?? HandlerParser.LocationOf(property);
        string name = property.Name;
        bool implementable = true;
        void CannotImplement(string reason)
        {
            implementable = false;
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.VmcsAccessorNotImplementable, location, name, reason));
        }

        if (declaration is null)
        {
            CannotImplement("it must be a partial property declaration with get (and optionally set) accessors and no bodies");
            return null;
        }
        if (property.IsStatic)
            CannotImplement("it is static, but the VMCS it views belongs to an instance");
        if (property.IsIndexer)
            CannotImplement("it is an indexer");
        INamedTypeSymbol type = property.ContainingType;
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (!HandlerParser.IsPartial(t, ct))
                CannotImplement($"its type '{t.ToDisplayString()}' is not partial");
            if (t.TypeParameters.Length > 0)
                CannotImplement($"its type '{t.ToDisplayString()}' is generic");
        }
        if (type.TypeKind is not (TypeKind.Class or TypeKind.Struct))
            CannotImplement("only classes and structs can hold a Vmcs");
        // Without a partial, non-generic home there is nowhere to put an implementation; the rest still gets one (throwing).
        if (property.IsIndexer || type.TypeKind is not (TypeKind.Class or TypeKind.Struct) || !AllPartialAndNonGeneric(type, ct))
            return null;

        AccessorDeclarationSyntax? getter = declaration.AccessorList!.Accessors.FirstOrDefault(a => a.IsKind(SyntaxKind.GetAccessorDeclaration));
        AccessorDeclarationSyntax? setter = declaration.AccessorList.Accessors.FirstOrDefault(a => a.IsKind(SyntaxKind.SetAccessorDeclaration));
        AccessorDeclarationSyntax? init = declaration.AccessorList.Accessors.FirstOrDefault(a => a.IsKind(SyntaxKind.InitAccessorDeclaration));
        if (getter is null || init is not null)
            CannotImplement("a view has a get accessor and optionally a set accessor (not init)");
        AccessorDeclarationSyntax? writer = setter ?? init;

        string? vmcs = FindVmcsMember(type, out string? memberProblem);
        if (vmcs is null)
            CannotImplement(memberProblem!);

        string? getBody = null;
        string? setBody = null;
        if (implementable && getter is not null && Field(attribute, diagnostics, location) is { } field)
        {
            uint encoding = field.Encoding;
            string expected = VmcsEncodingRules.CSharpType(encoding);
            string declared = property.Type.ToDisplayString();
            bool ok = true;
            if (property.Type.SpecialType != SpecialTypeOf(expected))
            {
                ok = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.VmcsAccessorTypeMismatch, location, name, declared, field.Name,
                    encoding.ToString("X4", CultureInfo.InvariantCulture), VmcsEncodingRules.Describe(encoding), expected));
            }
            if (setter is not null && VmcsEncodingRules.IsReadOnly(encoding))
            {
                ok = false;
                diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.VmcsAccessorSetterOnReadOnlyField, location, name, field.Name));
            }
            if (ok)
                (getBody, setBody) = Bodies(vmcs!, field, setter is not null);
        }

        const string Throw = "throw new global::System.InvalidOperationException(\"This VMCS field view has a compile-time error (DSP0017-DSP0020).\")";
        return new VmcsAccessorModel(
            HandlerParser.GetHierarchy(type),
            Modifiers(declaration.Modifiers),
            property.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            name,
            getter is null ? null : Modifiers(getter.Modifiers),
            getter is null ? null : getBody ?? Throw,
            writer?.Keyword.Text,
            writer is null ? null : Modifiers(writer.Modifiers),
            writer is null ? null : setBody ?? Throw);
    }

    private static bool AllPartialAndNonGeneric(INamedTypeSymbol type, CancellationToken ct)
    {
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (!HandlerParser.IsPartial(t, ct) || t.TypeParameters.Length > 0)
                return false;
        }
        return true;
    }

    /// <summary>
    /// The user's bodiless partial declaration of the property. Once the generated implementation part exists, the compiler
    /// may hand out the implementation's symbol, whose syntax is the generated part, so the containing type's declarations
    /// are searched as well (Roslyn 4.8 has no API from one part to the other).
    /// </summary>
    private static PropertyDeclarationSyntax? FindDeclaration(IPropertySymbol property, CancellationToken ct)
    {
        PropertyDeclarationSyntax? own = property.DeclaringSyntaxReferences
            .Select(r => r.GetSyntax(ct)).OfType<PropertyDeclarationSyntax>()
            .FirstOrDefault(IsBodilessPartialDeclaration);
        if (own is not null)
            return own;
        return property.ContainingType.DeclaringSyntaxReferences
            .Select(r => r.GetSyntax(ct)).OfType<TypeDeclarationSyntax>()
            .SelectMany(t => t.Members.OfType<PropertyDeclarationSyntax>())
            .FirstOrDefault(p => p.Identifier.ValueText == property.Name && IsBodilessPartialDeclaration(p));
    }

    /// <summary>Whether the symbol is the implementation part of a partial property (its syntax is partial, with bodies).</summary>
    public static bool IsImplementationPart(IPropertySymbol property, CancellationToken ct) =>
        property.DeclaringSyntaxReferences.Length > 0
        && property.DeclaringSyntaxReferences.All(r => r.GetSyntax(ct) is PropertyDeclarationSyntax p
            && p.Modifiers.Any(SyntaxKind.PartialKeyword) && !IsBodilessPartialDeclaration(p));

    private static bool IsBodilessPartialDeclaration(PropertyDeclarationSyntax declaration) =>
        declaration.Modifiers.Any(SyntaxKind.PartialKeyword)
        && declaration.ExpressionBody is null
        && declaration.AccessorList is { } accessors
        && accessors.Accessors.All(a => a.Body is null && a.ExpressionBody is null);

    private static string Modifiers(SyntaxTokenList modifiers) =>
        string.Concat(modifiers.Where(m => !m.IsKind(SyntaxKind.PartialKeyword)).Select(m => m.Text + " "));

    private static SpecialType SpecialTypeOf(string keyword) => keyword switch
    {
        "ushort" => SpecialType.System_UInt16,
        "uint" => SpecialType.System_UInt32,
        _ => SpecialType.System_UInt64,
    };

    /// <summary>The field the attribute names, or null (with DSP0019) when the value is not a member of the table.</summary>
    private static VmcsFieldEntry? Field(AttributeData attribute, List<Diagnostic>? diagnostics, Location location)
    {
        if (attribute.ConstructorArguments.Length != 1
            || attribute.ConstructorArguments[0] is not { Type: INamedTypeSymbol { TypeKind: TypeKind.Enum } table, Value: { } raw })
            return null;
        uint encoding = System.Convert.ToUInt32(raw, CultureInfo.InvariantCulture);
        IFieldSymbol? member = table.GetMembers().OfType<IFieldSymbol>()
            .FirstOrDefault(f => f.HasConstantValue && System.Convert.ToUInt32(f.ConstantValue, CultureInfo.InvariantCulture) == encoding);
        if (member is null)
        {
            diagnostics?.Add(Diagnostic.Create(DiagnosticDescriptors.VmcsAccessorUndefinedField, location,
                encoding.ToString("X4", CultureInfo.InvariantCulture)));
            return null;
        }
        return new VmcsFieldEntry(member.Name, encoding);
    }

    /// <summary>The name of the one instance field or property of type Vmcs in <paramref name="type"/>, with a null-forgiving '!' when it is nullable.</summary>
    private static string? FindVmcsMember(INamedTypeSymbol type, out string? problem)
    {
        var candidates = new List<(string Name, ITypeSymbol Type)>();
        foreach (ISymbol member in type.GetMembers())
        {
            if (member.IsStatic || member.IsImplicitlyDeclared)
                continue;
            ITypeSymbol? memberType = member switch
            {
                IFieldSymbol f => f.AssociatedSymbol is null ? f.Type : null,
                IPropertySymbol { IsIndexer: false } p => p.Type,
                _ => null,
            };
            if (memberType is not null && KnownNames.Is(memberType.WithNullableAnnotation(NullableAnnotation.NotAnnotated), KnownNames.VmxNamespace, KnownNames.VmcsTypeName))
                candidates.Add((member.Name, memberType));
        }
        problem = candidates.Count switch
        {
            0 => $"'{type.Name}' has no instance field or property of type Vmcs to read the field from",
            1 => null,
            _ => $"'{type.Name}' has {candidates.Count} members of type Vmcs ({string.Join(", ", candidates.Select(c => c.Name))}); a view needs exactly one",
        };
        if (problem is not null)
            return null;
        (string memberName, ITypeSymbol vmcsType) = candidates[0];
        return "this." + memberName + (vmcsType.NullableAnnotation == NullableAnnotation.Annotated ? "!" : "");
    }

    /// <summary>
    /// The accessor bodies. A full field goes through the Vmcs's generated typed property; the high access of a 64-bit
    /// field reads or replaces the upper half of the full field's property.
    /// </summary>
    private static (string Getter, string? Setter) Bodies(string vmcs, VmcsFieldEntry field, bool hasSetter)
    {
        if (!VmcsEncodingRules.IsHighAccess(field.Encoding))
        {
            string target = vmcs + "." + field.Name;
            return (target, hasSetter ? target + " = value" : null);
        }
        string read = $"{vmcs}.Read(global::Dispatch.Vmx.VmcsField.{field.Name})";
        string write = $"{vmcs}.Write(global::Dispatch.Vmx.VmcsField.{field.Name}, value)";
        return ("(uint)" + read, hasSetter ? write : null);
    }
}
