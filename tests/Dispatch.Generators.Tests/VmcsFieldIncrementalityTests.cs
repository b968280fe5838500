using Dispatch.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Dispatch.Generators.Tests;

/// <summary>The VMCS field generator's pipeline caches: unrelated edits re-run nothing, a changed view re-runs its output.</summary>
public class VmcsFieldIncrementalityTests
{
    private const string Views = """
        using Dispatch.Vmx;
        namespace Inc;
        public enum MiniField : uint { GuestCsSelector = 0x0802, GuestRip = 0x681E }
        [VmcsStorage(typeof(MiniField))] public sealed partial class MiniVmcs { }
        partial class View
        {
            private readonly Vmcs _vmcs = new();
            [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; }
        }
        """;

    private const string Unrelated = "namespace Inc; class Unrelated { int Value => 1; }";

    private static readonly string[] Steps = [TrackingNames.VmcsStorage, TrackingNames.VmcsAccessors, TrackingNames.VmcsAccessorTypes];

    private static GeneratorRunResult RunTwice(Func<CSharpCompilation, Compilation> edit)
    {
        CSharpCompilation compilation = TestCompilation.Create(Views, Unrelated);
        GeneratorDriver driver = TestCompilation.CreateDriver(new VmcsFieldGenerator()).RunGenerators(compilation);
        Assert.Equal(2, driver.GetRunResult().Results.Single().GeneratedSources.Length);
        return driver.RunGenerators(edit(compilation)).GetRunResult().Results.Single();
    }

    private static CSharpCompilation Replace(CSharpCompilation compilation, int index, string text)
    {
        SyntaxTree old = compilation.SyntaxTrees.ElementAt(index);
        return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, TestCompilation.ParseOptions, old.FilePath));
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    [Fact]
    public void Unrelated_edit_leaves_every_step_cached_or_unchanged()
    {
        GeneratorRunResult second = RunTwice(c => Replace(c, 1, Unrelated.Replace("Value => 1", "Value => 2")));
        foreach (string step in Steps)
            Assert.All(Reasons(second, step), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        Assert.All(second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Changed_view_field_gives_Modified()
    {
        GeneratorRunResult second = RunTwice(c => Replace(c, 0, Views.Replace("VmcsField.GuestRip", "VmcsField.GuestRsp")));
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(second, TrackingNames.VmcsAccessors));
        Assert.Contains("this._vmcs.GuestRsp", second.GeneratedSources.Single(s => s.HintName.EndsWith("VmcsFields.g.cs")).SourceText.ToString());
    }
}
