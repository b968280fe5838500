using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Dispatch.Benchmarks.Throughput;

/// <summary>
/// Guest throughput: the same C workloads (<c>workloads.c</c>, gcc -O2, no SSE) run natively (baseline) and in the engine.
/// The ratio column is the engine's slowdown; the MIPS column divides the guest's retired instruction count by the mean
/// time of each row (for the native row that count stands in for the native build's, which differs only by PIC code).
/// Guest runs take up to seconds each: run this suite with <c>--job Short</c> (see benchmarks/README.md).
/// </summary>
[Config(typeof(Config))]
[BenchmarkCategory(Category)]
public class ThroughputBenchmarks
{
    public const string Category = "Throughput";

    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new MipsColumn());
    }

    [Params(Workload.Integer, Workload.Memory, Workload.Sha256)]
    public Workload Workload { get; set; }

    private GuestWorkloads? _guest;
    private NativeWorkloads? _native;

    [GlobalSetup]
    public void Setup()
    {
        if (!WorkloadBuild.GccAvailable(out var why))
        {
            Console.WriteLine($"// Throughput benchmarks skipped: {why}");
            return;
        }
        var (image, library) = WorkloadBuild.Build();
        _guest = new GuestWorkloads(image);
        _native = new NativeWorkloads(library);
        // The guest must compute what the native code computes, or the comparison means nothing.
        ulong expected = _native.Run(Workload);
        var (actual, instructions) = _guest.Run(Workload);
        if (actual != expected)
            throw new InvalidOperationException($"{Workload}: guest result 0x{actual:X} differs from native 0x{expected:X}.");
        GuestWorkloads.RememberInstructions(Workload, instructions);
        Console.WriteLine($"// {Workload}: {instructions:N0} guest instructions per run, result 0x{actual:X}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _guest?.Dispose();
        _native?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ulong Native() => _native?.Run(Workload) ?? 0;

    [Benchmark]
    public ulong Guest() => _guest?.Run(Workload).Result ?? 0;
}
