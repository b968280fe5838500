using System.Diagnostics;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// Per-vCPU exit counts and handler-latency histograms by basic exit reason. Fixed arrays: recording an exit allocates
/// nothing. Latency is the time from the VM exit to the handler's return (dispatch + handler), in power-of-two
/// nanosecond buckets; it is measured only when <see cref="RunOptions.MeasureLatency"/> is set.
/// </summary>
public sealed class ExitStatistics
{
    public const int ReasonCount = 128;
    public const int LatencyBuckets = 40;

    private readonly long[] _counts = new long[ReasonCount];
    private readonly long[] _latency = new long[ReasonCount * LatencyBuckets];
    private readonly long[] _latencyTotalTicks = new long[ReasonCount];

    public long Count(ExitReason reason) => (int)reason < ReasonCount ? _counts[(int)reason] : 0;

    public long TotalExits
    {
        get
        {
            long sum = 0;
            foreach (long c in _counts) sum += c;
            return sum;
        }
    }

    /// <summary>Reasons with at least one exit, in numeric order, with their counts.</summary>
    public IReadOnlyList<(ExitReason Reason, long Count)> NonZero()
    {
        var list = new List<(ExitReason, long)>();
        for (int i = 0; i < ReasonCount; i++)
            if (_counts[i] != 0) list.Add(((ExitReason)i, _counts[i]));
        return list;
    }

    /// <summary>Histogram of handler latency: element b counts exits that took [2^b, 2^(b+1)) ns.</summary>
    public ReadOnlySpan<long> LatencyHistogram(ExitReason reason) =>
        (int)reason < ReasonCount ? _latency.AsSpan((int)reason * LatencyBuckets, LatencyBuckets) : default;

    /// <summary>Mean handler latency in nanoseconds over the exits that were measured.</summary>
    public double MeanLatencyNanoseconds(ExitReason reason)
    {
        if ((int)reason >= ReasonCount) return 0;
        long measured = 0;
        foreach (long c in LatencyHistogram(reason)) measured += c;
        return measured == 0 ? 0 : _latencyTotalTicks[(int)reason] * (1e9 / Stopwatch.Frequency) / measured;
    }

    internal void Record(ExitReason reason)
    {
        int i = (int)reason;
        if (i < ReasonCount) _counts[i]++;
    }

    internal void RecordLatency(ExitReason reason, long ticks)
    {
        int i = (int)reason;
        if (i >= ReasonCount) return;
        long ns = (long)(ticks * (1e9 / Stopwatch.Frequency));
        int bucket = ns <= 1 ? 0 : Math.Min(LatencyBuckets - 1, 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)ns));
        _latency[i * LatencyBuckets + bucket]++;
        _latencyTotalTicks[i] += ticks;
    }

    public void Reset()
    {
        Array.Clear(_counts);
        Array.Clear(_latency);
        Array.Clear(_latencyTotalTicks);
    }
}
