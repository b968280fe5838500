using Dispatch.Vmx;

namespace Dispatch.Benchmarks.DispatchLatency;

public enum TraceKind
{
    /// <summary>CPUID over and over: the branch predictor learns it at once.</summary>
    SameReason,
    /// <summary>Uniformly random over the handled reasons: the worst case for every indirect branch.</summary>
    UniformRandom,
    /// <summary>The exit reasons of <see cref="RecordedGuest"/>, in the order the guest produced them, repeated.</summary>
    RecordedGuest,
}

public static class ExitTraces
{
    private static ExitReason[]? s_recorded;

    /// <summary>The recorded guest's exits (run once per process).</summary>
    public static ExitReason[] Recorded => s_recorded ??= RecordedGuest.Record();

    public static ExitReason[] Create(TraceKind kind, int length)
    {
        var trace = new ExitReason[length];
        switch (kind)
        {
            case TraceKind.SameReason:
                Array.Fill(trace, ExitReason.Cpuid);
                break;
            case TraceKind.UniformRandom:
                var random = new Random(12345);
                for (int i = 0; i < length; i++) trace[i] = HandlerSet.Reasons[random.Next(HandlerSet.Reasons.Length)];
                break;
            case TraceKind.RecordedGuest:
                var recorded = Recorded;
                for (int i = 0; i < length; i++) trace[i] = recorded[i % recorded.Length];
                break;
        }
        return trace;
    }
}
