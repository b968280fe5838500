using Dispatch.Generators.Parsing;
using Dispatch.Generators.Tests.Infrastructure;
using Dispatch.Vmx;
using Microsoft.CodeAnalysis;

namespace Dispatch.Generators.Tests;

/// <summary>The VMCS field generator's output: snapshots, the view declared in this project, and the encoding rules.</summary>
public class VmcsFieldGeneratorTests
{
    public static TheoryData<string, string> Scenarios => new()
    {
        {
            // A small table with one field of each width, a high access and an exit-information field.
            "VmcsStorage",
            """
            using Dispatch.Vmx;
            namespace Sample;
            public enum MiniField : uint
            {
                GuestCsSelector = 0x0802,
                TscOffset = 0x2010,
                TscOffsetHigh = 0x2011,
                VmExitReason = 0x4402,
                GuestRip = 0x681E,
            }
            [VmcsStorage(typeof(MiniField))]
            public sealed partial class MiniVmcs { }
            """
        },
        {
            "VmcsFieldViews",
            """
            using Dispatch.Vmx;
            namespace Sample
            {
                public readonly partial struct GuestView
                {
                    private readonly Vmcs _vmcs;
                    public GuestView(Vmcs vmcs) => _vmcs = vmcs;

                    [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; }
                    [VmcsFieldAccessor(VmcsField.GuestCsSelector)] public partial ushort Cs { get; private set; }
                    [VmcsFieldAccessor(VmcsField.VmExitReason)] internal partial uint Reason { get; }
                    [VmcsFieldAccessor(VmcsField.TscOffsetHigh)] public partial uint TscOffsetHigh { get; set; }
                }
            }
            """
        },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Generated_source_matches_snapshot(string scenario, string source)
    {
        (Compilation output, _, GeneratorRunResult result) = TestCompilation.Generate(TestCompilation.Create(source), new VmcsFieldGenerator());

        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        GeneratedSourceResult generated = Assert.Single(result.GeneratedSources);
        SnapshotTests.AssertSnapshot($"{scenario}.{generated.HintName}", generated.SourceText.ToString());
    }

    [Fact]
    public void A_compilation_without_the_attributes_generates_nothing()
    {
        (_, _, GeneratorRunResult result) = TestCompilation.Generate(TestCompilation.Create("class Plain { }"), new VmcsFieldGenerator());
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void Generator_decodes_every_field_as_the_runtime_does()
    {
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
        {
            uint encoding = (uint)field;
            Assert.Equal((int)VmcsEncoding.Width(encoding), (int)VmcsEncodingRules.Width(encoding));
            Assert.Equal((int)VmcsEncoding.Type(encoding), VmcsEncodingRules.Type(encoding));
            Assert.Equal(VmcsEncoding.Index(encoding), VmcsEncodingRules.Index(encoding));
            Assert.Equal(VmcsEncoding.IsHighAccess(encoding), VmcsEncodingRules.IsHighAccess(encoding));
            Assert.Equal(VmcsEncoding.BitWidth(encoding), VmcsEncodingRules.CSharpType(encoding) switch { "ushort" => 16, "uint" => 32, _ => 64 });
        }
    }

    [Fact]
    public void Declared_views_read_and_write_the_vmcs()
    {
        var vmcs = new Vmcs();
        var view = new Handlers.GuestFieldView(vmcs);

        view.Rip = 0xFFFF_8000_0000_1000;
        Assert.Equal(0xFFFF_8000_0000_1000UL, vmcs.Read(VmcsField.GuestRip));
        vmcs.Write(VmcsField.GuestCsSelector, 0x1_0010);
        Assert.Equal((ushort)0x0010, view.Cs);

        vmcs.RecordExit(new VmExitInformation(ExitReasonField.From(ExitReason.Hlt), 0));
        Assert.Equal((uint)ExitReason.Hlt, view.Reason);

        vmcs.Write(VmcsField.TscOffset, 0x1111_2222_3333_4444);
        Assert.Equal(0x1111_2222u, view.TscOffsetHigh);
        view.TscOffsetHigh = 0xAAAA_BBBB;
        Assert.Equal(0xAAAA_BBBB_3333_4444UL, vmcs.Read(VmcsField.TscOffset));
    }
}
