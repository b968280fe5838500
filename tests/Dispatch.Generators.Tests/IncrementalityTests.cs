using System.Collections;
using System.Reflection;
using Dispatch.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Dispatch.Generators.Tests;

/// <summary>The pipeline caches: edits that do not touch handlers leave every step cached or unchanged.</summary>
public class IncrementalityTests
{
    private const string Handlers = """
        using Dispatch;
        using Dispatch.Vmx;
        namespace Inc;
        partial class H
        {
            [ExitHandler(ExitReason.IoInstruction, Port = 0x3F8)] void Serial(IoQualification io) { }
            [ExitHandler(ExitReason.Cpuid)] ExitAction Cpuid(ref ExitContext context) => ExitAction.Advance;
            [DefaultExitHandler] void Other() { }
        }
        """;

    private const string Unrelated = """
        namespace Inc;
        class Unrelated { int Value => 1; }
        """;

    private static readonly string[] TrackedSteps =
    [
        TrackingNames.ExitHandlers, TrackingNames.ValidExitHandlers, TrackingNames.DefaultHandlers,
        TrackingNames.ValidDefaultHandlers, TrackingNames.AllHandlers, TrackingNames.Dispatchers,
    ];

    private static (GeneratorRunResult First, GeneratorRunResult Second) RunTwice(Func<CSharpCompilation, Compilation> edit)
    {
        CSharpCompilation compilation = TestCompilation.Create(Handlers, Unrelated);
        GeneratorDriver driver = TestCompilation.CreateDriver().RunGenerators(compilation);
        GeneratorRunResult first = driver.GetRunResult().Results.Single();
        driver = driver.RunGenerators(edit(compilation));
        return (first, driver.GetRunResult().Results.Single());
    }

    private static CSharpCompilation Replace(CSharpCompilation compilation, int index, string text)
    {
        SyntaxTree old = compilation.SyntaxTrees.ElementAt(index);
        return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, TestCompilation.ParseOptions, old.FilePath));
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    public static TheoryData<string> UnrelatedEdits => new() { "clone", "unrelated type", "comment in handler file" };

    [Theory]
    [MemberData(nameof(UnrelatedEdits))]
    public void Unrelated_edit_leaves_every_step_cached_or_unchanged(string edit)
    {
        (GeneratorRunResult first, GeneratorRunResult second) = RunTwice(c => edit switch
        {
            "clone" => c.Clone(),
            "unrelated type" => Replace(c, 1, Unrelated.Replace("Value => 1", "Value => 2")),
            _ => Replace(c, 0, Handlers + "\n// a comment\n"),
        });

        Assert.Equal(first.GeneratedSources.Select(s => s.SourceText.ToString()), second.GeneratedSources.Select(s => s.SourceText.ToString()));
        foreach (string step in TrackedSteps)
        {
            Assert.True(second.TrackedSteps.ContainsKey(step), $"step {step} not tracked");
            Assert.All(Reasons(second, step), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        }
        Assert.All(second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Changed_attribute_argument_gives_Modified()
    {
        (_, GeneratorRunResult second) = RunTwice(c => Replace(c, 0, Handlers.Replace("Port = 0x3F8", "Port = 0x2F8")));

        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(second, TrackingNames.ExitHandlers));
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(second, TrackingNames.Dispatchers));
        Assert.Contains("case 0x02F8:", second.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Pipeline_models_hold_no_symbols_syntax_or_compilations()
    {
        (GeneratorRunResult first, _) = RunTwice(c => c.Clone());
        foreach (string step in TrackedSteps)
        {
            foreach (var output in first.TrackedSteps[step].SelectMany(s => s.Outputs))
                AssertNoCompilerObjects(output.Value, new HashSet<object>(ReferenceEqualityComparer.Instance), step);
        }
    }

    private static void AssertNoCompilerObjects(object? value, HashSet<object> seen, string path)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
            return;
        Assert.False(value is Compilation or ISymbol or SyntaxNode or SemanticModel or Location or SyntaxTree,
            $"{path} holds a {value.GetType().Name}");
        if (value is IEnumerable sequence)
        {
            foreach (object? item in sequence)
                AssertNoCompilerObjects(item, seen, path + "[]");
        }
        foreach (FieldInfo field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            AssertNoCompilerObjects(field.GetValue(value), seen, path + "." + field.Name);
    }
}
