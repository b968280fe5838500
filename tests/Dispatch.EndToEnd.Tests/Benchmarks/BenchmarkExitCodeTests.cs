using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Dispatch.Benchmarks.Infrastructure;

namespace Dispatch.EndToEnd.Tests.Benchmarks;

/// <summary>BenchmarkDotNet exits 0 when a benchmark throws; the program's exit code must not.</summary>
[Collection(BenchmarkCollection.Name)]
public sealed class BenchmarkExitCodeTests
{
    public class ThrowingBenchmark
    {
        [Benchmark]
        public int Throws() => throw new InvalidOperationException("deliberate");
    }

    public class PassingBenchmark
    {
        [Benchmark]
        public int Passes() => 42;
    }

    [Theory]
    [InlineData(typeof(ThrowingBenchmark), 1)]
    [InlineData(typeof(PassingBenchmark), 0)]
    public void ExitCode_FollowsTheSummaries(Type benchmark, int expected)
    {
        string artifacts = Path.Combine(Path.GetTempPath(), $"dispatch-bench-exitcode-{Environment.ProcessId}-{benchmark.Name}");
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(Job.Dry.WithToolchain(InProcessEmitToolchain.Instance))
            .WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.DisableLogFile)
            .WithArtifactsPath(artifacts);
        try
        {
            var summary = BenchmarkRunner.Run(benchmark, config);
            var log = new StringWriter();
            Assert.Equal(expected, BenchmarkProgram.ExitCode([summary], log));
            if (expected != 0) Assert.Contains("Throws", log.ToString());
        }
        finally
        {
            if (Directory.Exists(artifacts)) Directory.Delete(artifacts, recursive: true);
        }
    }
}
