using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Dispatch.Generators.Diagnostics;
using Dispatch.Generators.Models;
using Dispatch.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Dispatch.Generators;

/// <summary>
/// Reports the DSPxxxx diagnostics for exit handlers. It applies the same parser as <see cref="ExitHandlerGenerator"/>, and
/// being an analyzer its diagnostics honour <c>#pragma warning</c>, <c>[SuppressMessage]</c> and .editorconfig.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ExitHandlerAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.DuplicateHandler,
        DiagnosticDescriptors.RefinementNotApplicable,
        DiagnosticDescriptors.SubleafWithoutLeaf,
        DiagnosticDescriptors.UnbindableParameter,
        DiagnosticDescriptors.UnsupportedReturnType,
        DiagnosticDescriptors.QualificationMismatch,
        DiagnosticDescriptors.TypeNotPartial,
        DiagnosticDescriptors.GenericType,
        DiagnosticDescriptors.HandlerNotCallable,
        DiagnosticDescriptors.UndefinedExitReason,
        DiagnosticDescriptors.MultipleDefaultHandlers,
        DiagnosticDescriptors.NoReasonHandled,
        DiagnosticDescriptors.RefinementOutOfRange,
        DiagnosticDescriptors.EntryFailureReason,
        DiagnosticDescriptors.DispatchAlreadyDeclared);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (start.Compilation.GetTypeByMetadataName(KnownNames.ExitHandlerAttribute) is null
                && start.Compilation.GetTypeByMetadataName(KnownNames.DefaultExitHandlerAttribute) is null)
                return;
            start.RegisterSymbolAction(AnalyzeType, SymbolKind.NamedType);
            start.RegisterSyntaxNodeAction(AnalyzeLocalFunction, SyntaxKind.LocalFunctionStatement);
        });
    }

    private static bool IsHandlerAttribute(AttributeData attribute) =>
        KnownNames.IsAttribute(attribute, KnownNames.ExitHandlerAttribute)
        || KnownNames.IsAttribute(attribute, KnownNames.DefaultExitHandlerAttribute);

    private static void AnalyzeType(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        var methods = type.GetMembers().OfType<IMethodSymbol>()
            .Where(m => m.GetAttributes().Any(IsHandlerAttribute))
            .ToList();
        if (methods.Count == 0)
            return;

        var diagnostics = new List<Diagnostic>();
        HandlerParser.CheckType(type, diagnostics, context.CancellationToken);

        var claimed = new Dictionary<Registration, IMethodSymbol>();
        ParsedHandler? defaultHandler = null;
        bool anyRegistration = false;
        foreach (IMethodSymbol method in methods)
        {
            ParsedHandler parsed = HandlerParser.ParseMethod(method, diagnostics, context.CancellationToken);
            foreach (ParsedRegistration registration in parsed.Registrations)
            {
                anyRegistration = true;
                if (claimed.TryGetValue(registration.Registration, out IMethodSymbol? owner))
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DuplicateHandler, HandlerParser.LocationOf(registration.Attribute),
                        Describe(registration.Registration), owner.Name));
                else
                    claimed.Add(registration.Registration, method);
            }
            if (parsed.DefaultAttribute is { } attribute)
            {
                if (defaultHandler is null)
                    defaultHandler = parsed;
                else
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.MultipleDefaultHandlers, HandlerParser.LocationOf(attribute),
                        type.Name, defaultHandler.Method.Name));
            }
        }
        if (!anyRegistration && defaultHandler is not null)
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.NoReasonHandled, HandlerParser.LocationOf(type),
                type.Name, defaultHandler.Method.Name));

        foreach (Diagnostic diagnostic in diagnostics)
            context.ReportDiagnostic(diagnostic);
    }

    private static void AnalyzeLocalFunction(SyntaxNodeAnalysisContext context)
    {
        var function = (LocalFunctionStatementSyntax)context.Node;
        if (function.AttributeLists.Count == 0)
            return;
        if (context.SemanticModel.GetDeclaredSymbol(function, context.CancellationToken) is not IMethodSymbol symbol
            || !symbol.GetAttributes().Any(IsHandlerAttribute))
            return;
        context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.HandlerNotCallable, function.Identifier.GetLocation(),
            symbol.Name, "local functions are not members of the type"));
    }

    private static string Describe(Registration registration)
    {
        string text = "ExitReason." + registration.ReasonName;
        if (registration.Refinement != RefinementKind.None)
            text += $" with {registration.Refinement} = 0x{registration.Value:X}";
        if (registration.HasSubleaf)
            text += $", Subleaf = 0x{registration.Subleaf:X}";
        return text;
    }
}
