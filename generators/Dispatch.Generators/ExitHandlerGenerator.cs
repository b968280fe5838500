using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Dispatch.Generators.Diagnostics;
using Dispatch.Generators.Emitting;
using Dispatch.Generators.Models;
using Dispatch.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Dispatch.Generators;

/// <summary>
/// Generates <c>IExitHandler.Dispatch</c> for every partial type with <c>[ExitHandler]</c> or <c>[DefaultExitHandler]</c>
/// methods. Errors in user code are reported by <see cref="ExitHandlerAnalyzer"/>; this generator only skips what it
/// cannot call, and reports (DSP0012) only its own failures.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ExitHandlerGenerator : IIncrementalGenerator
{
    private readonly Func<DispatcherModel, string> _emit;

    public ExitHandlerGenerator()
        : this(DispatcherEmitter.Emit)
    {
    }

    /// <summary>Lets tests replace the emitter, e.g. with one that fails.</summary>
    internal ExitHandlerGenerator(Func<DispatcherModel, string> emit) => _emit = emit;

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValueProvider<ImmutableArray<TransformResult>> exitHandlers = context.SyntaxProvider
            .ForAttributeWithMetadataName(KnownNames.ExitHandlerAttribute, IsHandlerMethod, Transform)
            .WithTrackingName(TrackingNames.ExitHandlers)
            .Where(static r => r is not null)
            .Select(static (r, _) => r!)
            .WithTrackingName(TrackingNames.ValidExitHandlers)
            .Collect();

        IncrementalValueProvider<ImmutableArray<TransformResult>> defaultHandlers = context.SyntaxProvider
            .ForAttributeWithMetadataName(KnownNames.DefaultExitHandlerAttribute, IsHandlerMethod, Transform)
            .WithTrackingName(TrackingNames.DefaultHandlers)
            .Where(static r => r is not null)
            .Select(static (r, _) => r!)
            .WithTrackingName(TrackingNames.ValidDefaultHandlers)
            .Collect();

        IncrementalValuesProvider<DispatcherModel> dispatchers = exitHandlers
            .Combine(defaultHandlers)
            .WithTrackingName(TrackingNames.AllHandlers)
            .SelectMany(static (pair, _) => Group(pair.Left, pair.Right))
            .WithTrackingName(TrackingNames.Dispatchers);

        context.RegisterSourceOutput(dispatchers, Execute);
    }

    private static bool IsHandlerMethod(SyntaxNode node, CancellationToken _) =>
        node is MethodDeclarationSyntax { Parent: TypeDeclarationSyntax };

    private static TransformResult? Transform(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        if (context.TargetSymbol is not IMethodSymbol { ContainingType: { } type } method)
            return null;
        TypeHierarchy? hierarchy = null;
        try
        {
            hierarchy = HandlerParser.GetHierarchy(type);
            if (!HandlerParser.CheckType(type, diagnostics: null, ct))
                return null;
            ParsedHandler parsed = HandlerParser.ParseMethod(method, diagnostics: null, ct);
            HandlerMethod? handler = HandlerParser.ToModel(parsed, hierarchy);
            return handler is null ? null : new TransformResult(handler, null, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return hierarchy is null ? null : new TransformResult(null, hierarchy, Describe(e));
        }
    }

    private static ImmutableArray<DispatcherModel> Group(ImmutableArray<TransformResult> exitHandlers, ImmutableArray<TransformResult> defaultHandlers)
    {
        var order = new List<TypeHierarchy>();
        var handlers = new Dictionary<TypeHierarchy, List<HandlerMethod>>();
        var defaults = new Dictionary<TypeHierarchy, HandlerMethod>();
        var failures = new Dictionary<TypeHierarchy, string>();

        void Add(TransformResult result, bool isDefault)
        {
            TypeHierarchy type = result.Handler?.Type ?? result.FailedType!;
            if (!handlers.ContainsKey(type))
            {
                order.Add(type);
                handlers.Add(type, new List<HandlerMethod>());
            }
            if (result.Failure is not null)
                failures[type] = result.Failure;
            else if (isDefault)
            {
                if (!defaults.ContainsKey(type))
                    defaults.Add(type, result.Handler!);
            }
            else
                handlers[type].Add(result.Handler!);
        }

        foreach (TransformResult result in exitHandlers)
            Add(result, isDefault: false);
        foreach (TransformResult result in defaultHandlers)
            Add(result, isDefault: true);

        return order.Select(t => new DispatcherModel(
                t,
                handlers[t].ToEquatableArray(),
                defaults.TryGetValue(t, out HandlerMethod? d) ? d : null,
                failures.TryGetValue(t, out string? f) ? f : null))
            .ToImmutableArray();
    }

    private void Execute(SourceProductionContext context, DispatcherModel model)
    {
        string hintName = DispatcherEmitter.HintName(model.Type);
        string? failure = model.Failure;
        string? source = null;
        if (failure is null)
        {
            try
            {
                source = _emit(model);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = Describe(e);
            }
        }
        if (source is null)
        {
            // The fallback keeps the type's IExitHandler implementation compiling; DSP0012 says what went wrong.
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.GeneratorFailure, Location.None,
                model.Type.MetadataName, failure));
            source = DispatcherEmitter.EmitFallback(model.Type);
        }
        context.AddSource(hintName, SourceText.From(source, System.Text.Encoding.UTF8));
    }

    private static string Describe(Exception e) => e.GetType().Name + ": " + e.Message;
}
