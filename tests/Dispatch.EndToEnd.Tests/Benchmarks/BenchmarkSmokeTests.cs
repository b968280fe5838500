using BenchmarkDotNet.Configs;
using Dispatch.Benchmarks.Infrastructure;
using Dispatch.Benchmarks.Throughput;

namespace Dispatch.EndToEnd.Tests.Benchmarks;

/// <summary>
/// Runs every benchmark once with BenchmarkDotNet's Dry job, in this process, and fails when any of them fails: a
/// validation error, an exception in setup or in the benchmark, or a benchmark without measurements. Timings are not
/// checked (this is usually a Debug build on a shared machine).
/// </summary>
[Collection(BenchmarkCollection.Name)]
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public void EveryBenchmark_RunsWithTheDryJob()
    {
        string artifacts = Path.Combine(Path.GetTempPath(), $"dispatch-bench-smoke-{Environment.ProcessId}");
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.DisableLogFile)
            .WithArtifactsPath(artifacts);
        var log = new StringWriter();
        // Smaller guest workloads keep the run short in a Debug build; the code paths are the same.
        var sizes = (WorkloadInputs.IntegerIterations, WorkloadInputs.MemoryBytes, WorkloadInputs.Sha256Bytes);
        (WorkloadInputs.IntegerIterations, WorkloadInputs.MemoryBytes, WorkloadInputs.Sha256Bytes) = (20_000, 1 << 20, 64 << 10);
        try
        {
            int exitCode = BenchmarkProgram.Run(["--filter", "*", "--job", "Dry", "--inProcess"], config, log);
            Assert.True(exitCode == 0, $"The benchmark run failed:\n{log}");
        }
        finally
        {
            (WorkloadInputs.IntegerIterations, WorkloadInputs.MemoryBytes, WorkloadInputs.Sha256Bytes) = sizes;
            if (Directory.Exists(artifacts)) Directory.Delete(artifacts, recursive: true);
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BenchmarkCollection
{
    public const string Name = "Benchmarks";
}
