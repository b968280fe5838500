using System.Reflection;
using Dispatch.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Dispatch.Generators.Tests;

/// <summary>
/// Compares generated source with the checked-in files under Snapshots/. To accept new output, run the tests with
/// <c>DISPATCH_UPDATE_SNAPSHOTS=1</c> and review the diff.
/// </summary>
public class SnapshotTests
{
    private const string Usings = "using Dispatch;\nusing Dispatch.Vmx;\n";

    public static TheoryData<string, string> Scenarios => new()
    {
        {
            "FileScopedNamespace",
            Usings + """
            namespace Sample.Handlers;

            public sealed partial class Basic
            {
                [ExitHandler(ExitReason.Cpuid)]
                public ExitAction Cpuid(ref ExitContext context) => ExitAction.Advance;

                [ExitHandler(ExitReason.Hlt)]
                public static ExitAction Halt() => ExitAction.Stop;

                [ExitHandler(ExitReason.IoInstruction)]
                public void Io(IoQualification io, VCpu vcpu) { }

                [DefaultExitHandler]
                public ExitAction Other(ExitReasonField reason) => ExitAction.Unhandled;
            }
            """
        },
        {
            "Refinements",
            Usings + """
            namespace Sample.Handlers
            {
                internal readonly partial record struct Refined
                {
                    [ExitHandler(ExitReason.Cpuid, Leaf = 0x40000000)]
                    [ExitHandler(ExitReason.Cpuid, Leaf = 0x40000001)]
                    static void Hypervisor(ref GuestRegisters registers) { }

                    [ExitHandler(ExitReason.Cpuid, Leaf = 7, Subleaf = 0)]
                    static void Features(ref GuestRegisters registers) { }

                    [ExitHandler(ExitReason.Cpuid, Leaf = 7)]
                    static void FeaturesOther(ref GuestRegisters registers) { }

                    [ExitHandler(ExitReason.IoInstruction, Port = 0x3F8)]
                    static ExitAction Serial(IoQualification io) => ExitAction.Advance;

                    [ExitHandler(ExitReason.Rdmsr, Msr = 0xC0000080)]
                    [ExitHandler(ExitReason.Wrmsr, Msr = 0xC0000080)]
                    static ExitAction Efer(in ExitContext context, ExitReasonField reason) => ExitAction.Advance;

                    [ExitHandler(ExitReason.CrAccess, ControlRegister = 3)]
                    static void Cr3(CrAccessQualification qualification, ref GuestRegisters registers) { }

                    [ExitHandler(ExitReason.ExceptionOrNmi, Vector = 14)]
                    static ExitAction PageFault(InterruptionInfo info, Vmcs vmcs) => ExitAction.Resume;

                    [ExitHandler(ExitReason.EptViolation)]
                    static ExitAction Ept(EptViolationQualification qualification) => ExitAction.Stop;
                }
            }
            """
        },
        {
            "NestedTypes",
            Usings + """
            namespace Sample
            {
                namespace Nested
                {
                    public static partial class Outer
                    {
                        private ref partial struct Inner
                        {
                            [ExitHandler(ExitReason.Vmcall)]
                            private ExitAction Hypercall(ref GuestRegisters registers) => ExitAction.Advance;
                        }
                    }
                }
            }

            partial class GlobalHandlers
            {
                [ExitHandler(ExitReason.MovDr)]
                void Dr(MovDrQualification qualification) { }

                [DefaultExitHandler]
                void Other() { }
            }
            """
        },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Generated_source_matches_snapshot(string scenario, string source)
    {
        (Compilation output, _, GeneratorRunResult result) = TestCompilation.Generate(TestCompilation.Create(source));

        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        Assert.NotEmpty(result.GeneratedSources);
        foreach (GeneratedSourceResult generated in result.GeneratedSources)
            AssertSnapshot($"{scenario}.{generated.HintName}", generated.SourceText.ToString());
    }

    internal static void AssertSnapshot(string fileName, string actual)
    {
        // The project directory comes from the build, not [CallerFilePath]: deterministic CI builds map source paths to /_/.
        string projectDirectory = typeof(SnapshotTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ProjectDirectory").Value!;
        string path = Path.Combine(projectDirectory, "Snapshots", fileName);
        actual = actual.ReplaceLineEndings("\n");
        if (Environment.GetEnvironmentVariable("DISPATCH_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"Missing snapshot {path}; run with DISPATCH_UPDATE_SNAPSHOTS=1 to create it.");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), actual);
    }
}
