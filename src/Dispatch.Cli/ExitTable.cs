using System.Globalization;

namespace Dispatch.Cli;

/// <summary>Prints a vCPU's exits by reason as an aligned table.</summary>
public static class ExitTable
{
    public static void Write(TextWriter output, VCpu vcpu, bool withLatency)
    {
        var rows = vcpu.Statistics.NonZero();
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
                output.Write("  " + vcpu.Statistics.MeanLatencyNanoseconds(reason).ToString("F0", CultureInfo.InvariantCulture).PadLeft(10));
            output.WriteLine();
        }
        output.Write("Total".PadRight(width));
        output.WriteLine("  " + vcpu.Statistics.TotalExits.ToString(CultureInfo.InvariantCulture).PadLeft(10));
        if (withLatency)
            output.WriteLine($"Guest instructions: {vcpu.InstructionsRetired.ToString(CultureInfo.InvariantCulture)}");
    }
}
