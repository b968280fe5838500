using Dispatch.Benchmarks.DispatchLatency;
using Dispatch.Benchmarks.RoundTrip;

namespace Dispatch.EndToEnd.Tests.Benchmarks;

/// <summary>The allocation gate the benchmarks' MemoryDiagnoser only reports: dispatch and exit round trips allocate nothing.</summary>
[Collection(BenchmarkCollection.Name)]
public sealed class DispatchAllocationTests
{
    [Fact]
    public void GeneratedDispatch_OnTheRecordedTrace_AllocatesNothing()
    {
        var benchmark = new DispatchLatencyBenchmarks { Trace = TraceKind.RecordedGuest, Handlers = HandlerInlining.Inlinable };
        benchmark.Setup();
        try
        {
            benchmark.GeneratedSwitch();
            long before = GC.GetAllocatedBytesForCurrentThread();
            benchmark.GeneratedSwitch();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        finally
        {
            benchmark.Cleanup();
        }
    }

    [Fact]
    public void CpuidRoundTrips_AllocateNothing()
    {
        var benchmark = new ExitRoundTripBenchmarks { Kind = ExitKind.Cpuid };
        benchmark.Setup();
        try
        {
            benchmark.RoundTrip();
            long before = GC.GetAllocatedBytesForCurrentThread();
            benchmark.RoundTrip();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        finally
        {
            benchmark.Cleanup();
        }
    }
}
