using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Dispatch.Benchmarks.Throughput;

/// <summary>Millions of guest instructions per second: the workload's retired guest instructions over the row's mean time.</summary>
public sealed class MipsColumn : IColumn
{
    public string Id => nameof(MipsColumn);
    public string ColumnName => "MIPS";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Guest instructions retired by one run (vcpu.InstructionsRetired) / mean time, in millions per second";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null || benchmarkCase.Parameters["Workload"] is not Workload workload) return "-";
        if (!WorkloadBuild.GccAvailable(out _)) return "-";
        long instructions = GuestWorkloads.InstructionsPerRun(workload);
        return (instructions / (stats.Mean / 1e9) / 1e6).ToString("N0");
    }
}
