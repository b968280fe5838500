using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Dispatch.Generators.Emitting;
using Dispatch.Generators.Models;
using Dispatch.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Dispatch.Generators;

/// <summary>
/// Generates VMCS storage from the one field table (<c>[VmcsStorage(typeof(VmcsField))]</c>: typed properties, slots and
/// the VMREAD/VMWRITE encoding map) and implements user-declared typed views (<c>[VmcsFieldAccessor]</c> partial
/// properties). Both pipelines start from ForAttributeWithMetadataName, so a compilation without the attributes costs
/// nothing. Mistakes are reported by <see cref="VmcsFieldAnalyzer"/>; this generator skips what it cannot implement.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class VmcsFieldGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<VmcsStorageModel> storage = context.SyntaxProvider
            .ForAttributeWithMetadataName(KnownNames.VmcsStorageAttribute,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => ctx.TargetSymbol is INamedTypeSymbol type
                    ? VmcsParser.ParseStorage(type, ctx.Attributes[0], diagnostics: null, ct)
                    : null)
            .Where(static m => m is not null)
            .Select(static (m, _) => m!)
            .WithTrackingName(TrackingNames.VmcsStorage);

        context.RegisterSourceOutput(storage, static (spc, model) =>
            spc.AddSource(VmcsStorageEmitter.HintName(model.Type), SourceText.From(VmcsStorageEmitter.Emit(model), System.Text.Encoding.UTF8)));

        IncrementalValueProvider<ImmutableArray<VmcsAccessorModel>> accessors = context.SyntaxProvider
            .ForAttributeWithMetadataName(KnownNames.VmcsFieldAccessorAttribute,
                static (node, _) => node is PropertyDeclarationSyntax { Parent: TypeDeclarationSyntax },
                static (ctx, ct) => ctx.TargetSymbol is IPropertySymbol property
                    ? VmcsParser.ParseAccessor(property, ctx.Attributes[0], diagnostics: null, ct)
                    : null)
            .Where(static m => m is not null)
            .Select(static (m, _) => m!)
            .WithTrackingName(TrackingNames.VmcsAccessors)
            .Collect();

        IncrementalValuesProvider<VmcsAccessorsModel> perType = accessors
            .SelectMany(static (all, _) => Group(all))
            .WithTrackingName(TrackingNames.VmcsAccessorTypes);

        context.RegisterSourceOutput(perType, static (spc, model) =>
            spc.AddSource(VmcsAccessorEmitter.HintName(model.Type), SourceText.From(VmcsAccessorEmitter.Emit(model), System.Text.Encoding.UTF8)));
    }

    private static ImmutableArray<VmcsAccessorsModel> Group(ImmutableArray<VmcsAccessorModel> all)
    {
        var order = new List<TypeHierarchy>();
        var byType = new Dictionary<TypeHierarchy, List<VmcsAccessorModel>>();
        foreach (VmcsAccessorModel accessor in all)
        {
            if (!byType.TryGetValue(accessor.Type, out List<VmcsAccessorModel>? list))
            {
                order.Add(accessor.Type);
                byType.Add(accessor.Type, list = new List<VmcsAccessorModel>());
            }
            // One implementation per property, even if the attribute appears twice.
            if (!list.Any(a => a.Name == accessor.Name))
                list.Add(accessor);
        }
        return order.Select(t => new VmcsAccessorsModel(t, byType[t].ToEquatableArray())).ToImmutableArray();
    }
}
