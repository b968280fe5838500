using System.Globalization;

namespace Dispatch.Cli;

/// <summary>Prints the exits of a vCPU, or of several together, by reason as an aligned table.</summary>
public static class ExitTable
{
    public static void Write(TextWriter output, VCpu vcpu, bool withLatency) => Write(output, [vcpu], withLatency);

    /// <summary>
    /// Exits by reason summed over <paramref name="vcpus"/> (a program's threads), with each reason's mean handler
    /// latency weighted by how many exits each vCPU had.
    /// </summary>
    public static void Write(TextWriter output, IReadOnlyList<VCpu> vcpus, bool withLatency)
    {
        var rows = vcpus.SelectMany(v => v.Statistics.NonZero())
            .GroupBy(r => r.Reason)
            .Select(g => (Reason: g.Key, Count: g.Sum(r => r.Count)))
            .OrderBy(r => (int)r.Reason)
            .ToList();
        int width = Math.Max("Exit reason".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Reason.ToString().Length + 5));
        output.Write("Exit reason".PadRight(width));
        output.Write("  " + "Count".PadLeft(10));
        if (withLatency) output.Write("  " + "Mean ns".PadLeft(10));
        output.WriteLine();
        foreach (var (reason, count) in rows)
        {
            output.Write($"{reason} ({(int)reason})".PadRight(width));
            output.Write("  " + count.ToString(CultureInfo.InvariantCulture).PadLeft(10));
            if (withLatency)
            {
                double weighted = vcpus.Sum(v => v.Statistics.MeanLatencyNanoseconds(reason) * v.Statistics.Count(reason)) / count;
                output.Write("  " + weighted.ToString("F0", CultureInfo.InvariantCulture).PadLeft(10));
            }
            output.WriteLine();
        }
        output.Write("Total".PadRight(width));
        output.WriteLine("  " + vcpus.Sum(v => v.Statistics.TotalExits).ToString(CultureInfo.InvariantCulture).PadLeft(10));
        if (withLatency)
            output.WriteLine($"Guest instructions: {vcpus.Sum(v => v.InstructionsRetired).ToString(CultureInfo.InvariantCulture)}");
    }
}
