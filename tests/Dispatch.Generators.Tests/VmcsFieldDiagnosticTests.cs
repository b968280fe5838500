using System.Collections.Immutable;
using Dispatch.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Dispatch.Generators.Tests;

/// <summary>
/// One or more tests per VMCS diagnostic (DSP0017-DSP0021). Each input still compiles: the generator implements a view it
/// rejects with throwing bodies, and generates no storage from an invalid table.
/// </summary>
public class VmcsFieldDiagnosticTests
{
    private const string Usings = "using Dispatch.Vmx;\n";

    private static async Task<Diagnostic> AssertSingle(string id, string source)
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompilation.GenerateAndAnalyzeVmcs(Usings + source);
        Assert.DoesNotContain(diagnostics, d => d.Id.StartsWith("CS", StringComparison.Ordinal) && d.Severity == DiagnosticSeverity.Error);
        Diagnostic diagnostic = Assert.Single(diagnostics, d => d.Id.StartsWith("DSP", StringComparison.Ordinal));
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.NotEqual(Location.None, diagnostic.Location);
        return diagnostic;
    }

    /// <summary>A view type holding one Vmcs, with <paramref name="property"/> declared in it.</summary>
    private static string View(string property) => $$"""
        partial class View
        {
            private readonly Vmcs _vmcs = new();
            {{property}}
        }
        """;

    [Fact]
    public async Task A_correct_view_has_no_diagnostic()
    {
        ImmutableArray<Diagnostic> diagnostics = await TestCompilation.GenerateAndAnalyzeVmcs(Usings + View("""
            [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; }
            [VmcsFieldAccessor(VmcsField.GuestCsSelector)] public partial ushort Cs { get; set; }
            [VmcsFieldAccessor(VmcsField.VmExitReason)] public partial uint Reason { get; }
            [VmcsFieldAccessor(VmcsField.TscOffsetHigh)] internal partial uint TscHigh { get; private set; }
            """));
        Assert.Empty(diagnostics);
    }

    [Theory]
    [InlineData("ushort", "GuestRip", "natural-width guest-state", "ulong")]
    [InlineData("long", "GuestRip", "natural-width guest-state", "ulong")]
    [InlineData("int", "GuestCsLimit", "32-bit guest-state", "uint")]
    [InlineData("uint", "GuestCsSelector", "16-bit guest-state", "ushort")]
    [InlineData("double", "TscOffset", "64-bit control", "ulong")]
    [InlineData("ulong", "TscOffsetHigh", "high half of a 64-bit control", "uint")]
    [InlineData("VmcsField", "EptPointer", "64-bit control", "ulong")]
    public async Task DSP0017_view_type_contradicts_the_field_width(string declared, string field, string kind, string expected)
    {
        Diagnostic d = await AssertSingle("DSP0017", View($"[VmcsFieldAccessor(VmcsField.{field})] public partial {declared} P {{ get; set; }}"));
        Assert.Contains($"is a {kind} field", d.GetMessage());
        Assert.Contains($"declare it as '{expected}'", d.GetMessage());
    }

    [Fact]
    public async Task DSP0018_setter_on_an_exit_information_field()
    {
        Diagnostic d = await AssertSingle("DSP0018", View("[VmcsFieldAccessor(VmcsField.ExitQualification)] public partial ulong Q { get; set; }"));
        Assert.Contains("ExitQualification", d.GetMessage());
    }

    [Fact]
    public async Task DSP0019_undefined_encoding() =>
        await AssertSingle("DSP0019", View("[VmcsFieldAccessor((VmcsField)0x0ABC)] public partial ulong P { get; set; }"));

    [Fact]
    public async Task DSP0020_type_without_a_vmcs() =>
        await AssertSingle("DSP0020", """
            partial class NoVmcs { [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; } }
            """);

    [Fact]
    public async Task DSP0020_type_with_two_vmcs_members()
    {
        Diagnostic d = await AssertSingle("DSP0020", """
            partial struct Two
            {
                public Vmcs First { get; }
                private readonly Vmcs? _second;
                [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; }
            }
            """);
        Assert.Contains("First, _second", d.GetMessage());
    }

    [Fact]
    public async Task DSP0020_property_that_is_not_a_partial_declaration() =>
        await AssertSingle("DSP0020", View("[VmcsFieldAccessor(VmcsField.GuestRip)] public ulong Rip { get; set; }"));

    [Fact]
    public async Task DSP0020_init_accessor() =>
        await AssertSingle("DSP0020", View("[VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; init; }"));

    [Fact]
    public async Task DSP0020_static_view() =>
        await AssertSingle("DSP0020", View("[VmcsFieldAccessor(VmcsField.GuestRip)] public static partial ulong Rip { get; set; }"));

    private static string Storage(string members, string underlying = "uint", string modifiers = "partial") => $$"""
        namespace Sample;
        public enum Table : {{underlying}} { {{members}} }
        [VmcsStorage(typeof(Table))] public sealed {{modifiers}} class Store { }
        """;

    [Theory]
    [InlineData("A = 0x0800, B = 0x0801", "high access, which only 64-bit fields have")]
    [InlineData("A = 0x1800", "reserved bits")]
    [InlineData("A = 0x1_0800", "reserved bits")]
    [InlineData("A = 0x2000, B = 0x2000", "is already 'A'")]
    [InlineData("A = 0x2003", "not in the table")]
    public async Task DSP0021_invalid_member_of_the_field_table(string members, string reason)
    {
        Diagnostic d = await AssertSingle("DSP0021", Storage(members));
        Assert.Contains(reason, d.GetMessage());
    }

    [Fact]
    public async Task DSP0021_field_table_that_is_not_a_uint_enum() =>
        await AssertSingle("DSP0021", Storage("A = 0x0800", underlying: "int"));

    [Fact]
    public async Task DSP0021_storage_class_that_is_not_partial() =>
        await AssertSingle("DSP0021", Storage("A = 0x0800", modifiers: ""));
}
