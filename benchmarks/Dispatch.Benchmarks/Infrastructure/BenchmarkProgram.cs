using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Dispatch.Benchmarks.Kvm;

namespace Dispatch.Benchmarks.Infrastructure;

/// <summary>
/// Runs the benchmarks the command line selects and turns the summaries into an exit code: BenchmarkDotNet itself exits 0
/// even when a benchmark throws, fails to build or fails validation.
/// </summary>
public static class BenchmarkProgram
{
    public static int Run(string[] args, IConfig? config = null, TextWriter? log = null)
    {
        log ??= Console.Out;
        config ??= DefaultConfig.Instance;
        if (!KvmDevice.IsAvailable(out var why))
        {
            log.WriteLine($"KVM benchmarks skipped: {why}");
            config = ManualConfig.Create(config).AddFilter(new SkipCategoryFilter(KvmDevice.BenchmarkCategory));
        }
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args, config).ToArray();
        return ExitCode(summaries, log);
    }

    /// <summary>0 when every selected benchmark ran and produced measurements; 1 otherwise, with the reasons written to <paramref name="log"/>.</summary>
    public static int ExitCode(IReadOnlyList<Summary> summaries, TextWriter log)
    {
        var failures = Failures(summaries).ToList();
        foreach (var failure in failures) log.WriteLine($"Benchmark failure: {failure}");
        return failures.Count == 0 ? 0 : 1;
    }

    public static IEnumerable<string> Failures(IReadOnlyList<Summary> summaries)
    {
        foreach (var summary in summaries)
        {
            if (summary.HasCriticalValidationErrors)
                foreach (var error in summary.ValidationErrors.Where(e => e.IsCritical))
                    yield return $"{summary.Title}: validation error: {error.Message}";
            foreach (var report in summary.Reports)
            {
                string name = report.BenchmarkCase.DisplayInfo;
                if (!report.BuildResult.IsBuildSuccess)
                    yield return $"{name}: build failed: {report.BuildResult.ErrorMessage}";
                else if (!report.Success)
                    yield return $"{name}: did not run to completion";
                else if (report.ResultStatistics is null || report.AllMeasurements.Count == 0)
                    yield return $"{name}: no measurements";
            }
            if (summary.BenchmarksCases.Length > summary.Reports.Length)
                yield return $"{summary.Title}: {summary.BenchmarksCases.Length - summary.Reports.Length} benchmark(s) produced no report";
        }
    }
}
