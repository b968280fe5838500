using System.Collections.Immutable;
using Dispatch.Vmx;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Dispatch.Generators.Tests.Infrastructure;

/// <summary>Builds in-memory compilations against .NET 10 and the Dispatch runtime, and runs the generator and analyzer.</summary>
internal static class TestCompilation
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(ExitContext).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(ExitReason).Assembly.Location),
    ];

    public static CSharpCompilation Create(params string[] sources) =>
        CSharpCompilation.Create(
            "Handlers",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver(IIncrementalGenerator? generator = null) =>
        CSharpGeneratorDriver.Create(
            [(generator ?? new ExitHandlerGenerator()).AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns the updated compilation, the generator's diagnostics and the run result.</summary>
    public static (Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorRunResult Result) Generate(
        Compilation compilation, IIncrementalGenerator? generator = null)
    {
        GeneratorDriver driver = CreateDriver(generator).RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return (output, diagnostics, driver.GetRunResult().Results.Single());
    }

    /// <summary>Generates, then returns the compiler's errors and warnings on the result plus the analyzer's diagnostics.</summary>
    public static async Task<ImmutableArray<Diagnostic>> GenerateAndAnalyze(params string[] sources)
    {
        (Compilation output, ImmutableArray<Diagnostic> generatorDiagnostics, _) = Generate(Create(sources));
        ImmutableArray<Diagnostic> analyzer = await output
            .WithAnalyzers([new ExitHandlerAnalyzer()])
            .GetAnalyzerDiagnosticsAsync();
        return [.. generatorDiagnostics, .. output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning), .. analyzer];
    }

    /// <summary>
    /// Runs the VMCS field generator and analyzer: the compiler's errors and warnings on the result plus the analyzer's
    /// diagnostics.
    /// </summary>
    public static async Task<ImmutableArray<Diagnostic>> GenerateAndAnalyzeVmcs(params string[] sources)
    {
        (Compilation output, ImmutableArray<Diagnostic> generatorDiagnostics, _) = Generate(Create(sources), new VmcsFieldGenerator());
        ImmutableArray<Diagnostic> analyzer = await output
            .WithAnalyzers([new VmcsFieldAnalyzer()])
            .GetAnalyzerDiagnosticsAsync();
        return [.. generatorDiagnostics, .. output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning), .. analyzer];
    }

    public static string GeneratedText(GeneratorRunResult result, string hintName) =>
        result.GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();
}
