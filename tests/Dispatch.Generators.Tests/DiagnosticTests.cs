using System.Collections.Immutable;
using Dispatch.Generators.Models;
using Dispatch.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Dispatch.Generators.Tests;

/// <summary>One test per diagnostic id. Each input still compiles: the generator skips what the analyzer reports.</summary>
public class DiagnosticTests
{
    private const string Usings = "using Dispatch;\nusing Dispatch.Vmx;\n";

    private static async Task<Diagnostic> AssertSingle(string id, string source, DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompilation.GenerateAndAnalyze(Usings + source);
        Assert.DoesNotContain(diagnostics, d => d.Id.StartsWith("CS", StringComparison.Ordinal) && d.Severity == DiagnosticSeverity.Error);
        Diagnostic diagnostic = Assert.Single(diagnostics, d => d.Id.StartsWith("DSP", StringComparison.Ordinal));
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(severity, diagnostic.Severity);
        Assert.NotEqual(Location.None, diagnostic.Location);
        return diagnostic;
    }

    [Fact]
    public async Task DSP0001_duplicate_handler_for_the_same_reason_and_refinement()
    {
        Diagnostic d = await AssertSingle("DSP0001", """
            partial class H
            {
                [ExitHandler(ExitReason.IoInstruction, Port = 0x60)] void A() { }
                [ExitHandler(ExitReason.IoInstruction, Port = 0x61)]
                [ExitHandler(ExitReason.IoInstruction, Port = 0x60)] void B() { }
            }
            """);
        Assert.Contains("'A'", d.GetMessage());
    }

    [Fact]
    public async Task DSP0001_duplicate_cpuid_subleaf_across_partial_declarations() =>
        await AssertSingle("DSP0001", """
            partial class H { [ExitHandler(ExitReason.Cpuid, Leaf = 7, Subleaf = 0)] void A() { } }
            partial class H { [ExitHandler(ExitReason.Cpuid, Leaf = 7, Subleaf = 0)] void B() { } }
            """);

    [Fact]
    public async Task DSP0002_refinement_not_applicable_to_the_reason() =>
        await AssertSingle("DSP0002", """
            partial class H { [ExitHandler(ExitReason.Cpuid, Port = 0x3F8)] void A() { } }
            """);

    [Fact]
    public async Task DSP0003_subleaf_without_leaf() =>
        await AssertSingle("DSP0003", """
            partial class H { [ExitHandler(ExitReason.Cpuid, Subleaf = 1)] void A() { } }
            """);

    [Fact]
    public async Task DSP0004_unbindable_parameter_lists_what_can_be_bound()
    {
        Diagnostic d = await AssertSingle("DSP0004", """
            partial class H { [ExitHandler(ExitReason.Hlt)] void A(int count) { } }
            """);
        Assert.Contains("IoQualification", d.GetMessage());
        Assert.Contains("VCpu", d.GetMessage());
    }

    [Fact]
    public async Task DSP0004_registers_by_value_are_not_bound() =>
        await AssertSingle("DSP0004", """
            partial class H { [ExitHandler(ExitReason.Hlt)] void A(GuestRegisters registers) { } }
            """);

    [Fact]
    public async Task DSP0005_unsupported_return_type() =>
        await AssertSingle("DSP0005", """
            partial class H { [ExitHandler(ExitReason.Hlt)] int A() => 0; }
            """);

    [Fact]
    public async Task DSP0006_qualification_type_not_matching_the_reason()
    {
        Diagnostic d = await AssertSingle("DSP0006", """
            partial class H
            {
                [ExitHandler(ExitReason.IoInstruction)]
                [ExitHandler(ExitReason.Cpuid)]
                void A(IoQualification io) { }
            }
            """);
        Assert.Contains("Cpuid", d.GetMessage());
    }

    [Fact]
    public async Task DSP0006_qualification_on_the_default_handler() =>
        await AssertSingle("DSP0006", """
            partial class H
            {
                [ExitHandler(ExitReason.Hlt)] void Halt() { }
                [DefaultExitHandler] ExitAction Other(CrAccessQualification q) => ExitAction.Unhandled;
            }
            """);

    [Fact]
    public async Task DSP0007_type_not_partial() =>
        await AssertSingle("DSP0007", """
            class H { [ExitHandler(ExitReason.Hlt)] void A() { } }
            """);

    [Fact]
    public async Task DSP0007_containing_type_not_partial()
    {
        Diagnostic d = await AssertSingle("DSP0007", """
            class Outer { partial class H { [ExitHandler(ExitReason.Hlt)] void A() { } } }
            """);
        Assert.Contains("'Outer'", d.GetMessage());
    }

    [Fact]
    public async Task DSP0008_generic_containing_type() =>
        await AssertSingle("DSP0008", """
            partial class Outer<T> { partial class H { [ExitHandler(ExitReason.Hlt)] void A() { } } }
            """);

    [Fact]
    public async Task DSP0009_local_function_cannot_be_called() =>
        await AssertSingle("DSP0009", """
            partial class H
            {
                [ExitHandler(ExitReason.Hlt)] void A() { }
                void M()
                {
                    [ExitHandler(ExitReason.Cpuid)] static void Local() { }
                    Local();
                }
            }
            """);

    [Fact]
    public async Task DSP0009_generic_method_cannot_be_called() =>
        await AssertSingle("DSP0009", """
            partial class H { [ExitHandler(ExitReason.Hlt)] void A<T>() { } }
            """);

    [Fact]
    public async Task DSP0010_undefined_exit_reason() =>
        await AssertSingle("DSP0010", """
            partial class H { [ExitHandler((ExitReason)35)] void A() { } }
            """);

    [Fact]
    public async Task DSP0011_more_than_one_default_handler() =>
        await AssertSingle("DSP0011", """
            partial class H
            {
                [ExitHandler(ExitReason.Hlt)] void A() { }
                [DefaultExitHandler] void B() { }
                [DefaultExitHandler] void C() { }
            }
            """);

    [Fact]
    public void DSP0012_generator_failure_is_a_diagnostic_and_the_fallback_compiles()
    {
        Compilation input = TestCompilation.Create(Usings + """
            partial class H { [ExitHandler(ExitReason.Hlt)] void A() { } }
            class User { ExitAction Use(H h, ref ExitContext c) => h.Dispatch(ref c); }
            """);
        var failing = new ExitHandlerGenerator(static (DispatcherModel _) => throw new InvalidOperationException("boom"));
        (Compilation output, ImmutableArray<Diagnostic> diagnostics, GeneratorRunResult result) = TestCompilation.Generate(input, failing);

        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("DSP0012", d.Id);
        Assert.Contains("boom", d.GetMessage());
        Assert.Null(result.Exception);
        Assert.Contains("ExitAction.Unhandled", TestCompilation.GeneratedText(result, "H.g.cs"));
        Assert.Empty(output.GetDiagnostics().Where(x => x.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public async Task DSP0013_type_with_only_a_default_handler() =>
        await AssertSingle("DSP0013", """
            partial class H { [DefaultExitHandler] void Everything(ExitReasonField reason) { } }
            """, DiagnosticSeverity.Info);

    [Fact]
    public async Task DSP0014_refinement_value_out_of_range() =>
        await AssertSingle("DSP0014", """
            partial class H { [ExitHandler(ExitReason.CrAccess, ControlRegister = 16)] void A() { } }
            """);

    [Fact]
    public async Task DSP0015_entry_failure_reason_is_a_warning() =>
        await AssertSingle("DSP0015", """
            partial class H { [ExitHandler(ExitReason.EntryFailureGuestState)] void A() { } }
            """, DiagnosticSeverity.Warning);

    [Fact]
    public async Task DSP0016_hand_written_Dispatch_clashes() =>
        await AssertSingle("DSP0016", """
            partial class H
            {
                [ExitHandler(ExitReason.Hlt)] void A() { }
                public ExitAction Dispatch(ref ExitContext context) => ExitAction.Unhandled;
            }
            """);

    [Fact]
    public async Task Pragma_suppresses_analyzer_diagnostics()
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompilation.GenerateAndAnalyze(Usings + """
            partial class H
            {
            #pragma warning disable DSP0015
                [ExitHandler(ExitReason.EntryFailureGuestState)] void A() { }
            #pragma warning restore DSP0015
            }
            """);
        Assert.DoesNotContain(diagnostics, d => d.Id == "DSP0015");
    }

    [Fact]
    public async Task Valid_handlers_report_nothing()
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompilation.GenerateAndAnalyze(Usings + """
            partial struct H
            {
                [ExitHandler(ExitReason.Cpuid, Leaf = 1, Subleaf = 2)]
                [ExitHandler(ExitReason.Cpuid, Leaf = 1)]
                [ExitHandler(ExitReason.Cpuid)]
                static ExitAction A(scoped ref ExitContext c, ref readonly GuestRegisters r, VCpu v, Vmcs m, ExitReasonField f) => ExitAction.Advance;
                [ExitHandler(ExitReason.ExternalInterrupt)] void B(InterruptionInfo info) { }
                [DefaultExitHandler] void C(InterruptionInfo info, in ExitContext c) { }
            }
            """);
        Assert.Empty(diagnostics);
    }
}
