using System.Collections.Generic;
using System.Collections.Immutable;
using Dispatch.Generators.Diagnostics;
using Dispatch.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Dispatch.Generators;

/// <summary>
/// Reports DSP0017-DSP0021 for VMCS storage and typed field views, with the parser <see cref="VmcsFieldGenerator"/> uses.
/// Being an analyzer, its diagnostics honour <c>#pragma warning</c>, <c>[SuppressMessage]</c> and .editorconfig.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class VmcsFieldAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.VmcsAccessorTypeMismatch,
        DiagnosticDescriptors.VmcsAccessorSetterOnReadOnlyField,
        DiagnosticDescriptors.VmcsAccessorUndefinedField,
        DiagnosticDescriptors.VmcsAccessorNotImplementable,
        DiagnosticDescriptors.InvalidVmcsFieldTable);

    public override void Initialize(AnalysisContext context)
    {
        // Analyze: once the generator has added a view's implementation part, the compiler counts the property as
        // generated code too; the attribute only ever sits on the user's declaration.
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.Analyze | GeneratedCodeAnalysisFlags.ReportDiagnostics);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (start.Compilation.GetTypeByMetadataName(KnownNames.VmcsStorageAttribute) is not null)
                start.RegisterSymbolAction(AnalyzeStorage, SymbolKind.NamedType);
            if (start.Compilation.GetTypeByMetadataName(KnownNames.VmcsFieldAccessorAttribute) is not null)
                start.RegisterSymbolAction(AnalyzeAccessor, SymbolKind.Property);
        });
    }

    private static void AnalyzeStorage(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        foreach (AttributeData attribute in type.GetAttributes())
        {
            if (!KnownNames.IsAttribute(attribute, KnownNames.VmcsStorageAttribute))
                continue;
            var diagnostics = new List<Diagnostic>();
            VmcsParser.ParseStorage(type, attribute, diagnostics, context.CancellationToken);
            foreach (Diagnostic diagnostic in diagnostics)
                context.ReportDiagnostic(diagnostic);
            return;
        }
    }

    private static void AnalyzeAccessor(SymbolAnalysisContext context)
    {
        var property = (IPropertySymbol)context.Symbol;
        // A view's two parts are two symbols; the generated implementation part is skipped so each problem shows once.
        if (VmcsParser.IsImplementationPart(property, context.CancellationToken))
            return;
        foreach (AttributeData attribute in property.GetAttributes())
        {
            if (!KnownNames.IsAttribute(attribute, KnownNames.VmcsFieldAccessorAttribute))
                continue;
            var diagnostics = new List<Diagnostic>();
            VmcsParser.ParseAccessor(property, attribute, diagnostics, context.CancellationToken);
            foreach (Diagnostic diagnostic in diagnostics)
                context.ReportDiagnostic(diagnostic);
            return;
        }
    }
}
