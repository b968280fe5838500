namespace Dispatch;

/// <summary>Bounds and measurements for one <see cref="VCpu.Run{THandler}(ref THandler, RunOptions?)"/>.</summary>
public sealed record RunOptions
{
    /// <summary>
    /// Stop after this many guest instructions (the run ends with <see cref="RunOutcome.BudgetExhausted"/>). An exception or
    /// interrupt delivered through the guest IDT counts as one, and so does a VM exit taken before any instruction retired,
    /// so a guest that faults in a loop (through its IDT or through exits its handler resumes) still reaches the bound.
    /// </summary>
    public long MaxInstructions { get; init; } = long.MaxValue;

    /// <summary>Stop after this much wall time, checked between instruction slices and on every VM entry.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Record handler latency histograms in <see cref="VCpu.Statistics"/> (costs two timestamp reads per exit).</summary>
    public bool MeasureLatency { get; init; }

    public static RunOptions Default { get; } = new();
}
