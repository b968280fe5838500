using BenchmarkDotNet.Attributes;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Benchmarks.Kvm;

/// <summary>
/// The user-space exit round trip on KVM (KVM_RUN returns, the exit is served, KVM_RUN again) for the loops the engine
/// benchmarks run: OUT to a port, a write to an MMIO address and HLT, each <see cref="Iterations"/> times, in a 16-bit
/// real-mode guest. Skipped (by the program's filter, or as a no-op here) where /dev/kvm is missing.
/// </summary>
[BenchmarkCategory(KvmDevice.BenchmarkCategory)]
public class KvmRoundTripBenchmarks
{
    public const int Iterations = 100_000;
    private const byte DataPort = 0x10, EndPort = 0x11;

    private KvmVm? _out, _mmio, _hlt;

    [GlobalSetup]
    public void Setup()
    {
        if (!KvmDevice.IsAvailable(out var why))
        {
            Console.WriteLine($"// KVM round trips skipped: {why}");
            return;
        }
        Console.WriteLine($"// KVM backend: {KvmDevice.Backend()}");
        _out = new KvmVm(OutLoop());
        _mmio = new KvmVm(MmioLoop());
        _hlt = new KvmVm(HltLoop());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _out?.Dispose();
        _mmio?.Dispose();
        _hlt?.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long KvmOut()
    {
        if (_out is null) return 0;
        _out.RunToEnd(EndPort, stopOnHlt: true);
        return Expect(_out.IoExits, Iterations);
    }

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long KvmMmioWrite()
    {
        if (_mmio is null) return 0;
        _mmio.RunToEnd(EndPort, stopOnHlt: true);
        return Expect(_mmio.MmioExits, Iterations);
    }

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long KvmHlt()
    {
        if (_hlt is null) return 0;
        _hlt.RunToEnd(EndPort, stopOnHlt: false);
        return Expect(_hlt.HltExits, Iterations);
    }

    private static long Expect(long actual, long expected) =>
        actual == expected ? actual : throw new InvalidOperationException($"Expected {expected} exits, served {actual}.");

    /// <summary>OUT to port 0x10 N times, then HLT.</summary>
    public static byte[] OutLoop() => Assemble(a =>
    {
        var loop = a.CreateLabel();
        a.mov(ecx, Iterations);
        a.Label(ref loop);
        a.@out(DataPort, al);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
    });

    /// <summary>A byte write to 0x10000 (past the 64 KiB memory slot, so MMIO) N times, then HLT.</summary>
    public static byte[] MmioLoop() => Assemble(a =>
    {
        var loop = a.CreateLabel();
        a.mov(ax, 0x1000);
        a.mov(ds, ax);
        a.mov(ecx, Iterations);
        a.Label(ref loop);
        a.mov(__byte_ptr[0], al);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
    });

    /// <summary>HLT N times (each one exits to user space without an in-kernel local APIC), then OUT to the end port.</summary>
    public static byte[] HltLoop() => Assemble(a =>
    {
        var loop = a.CreateLabel();
        a.mov(ecx, Iterations);
        a.Label(ref loop);
        a.hlt();
        a.dec(ecx);
        a.jnz(loop);
        a.@out(EndPort, al);
    });

    private static byte[] Assemble(Action<Assembler> program)
    {
        var a = new Assembler(16);
        program(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), KvmVm.CodeAddress);
        return stream.ToArray();
    }
}
