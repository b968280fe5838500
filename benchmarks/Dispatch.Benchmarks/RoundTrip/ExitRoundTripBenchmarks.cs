using BenchmarkDotNet.Attributes;
using Dispatch.Benchmarks.Infrastructure;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Benchmarks.RoundTrip;

/// <summary>
/// One full exit round trip in the engine (the guest instruction exits, the VMCS records the exit, the generated dispatcher
/// calls the handler, the action is applied, the guest is entered again), measured as the run time of a guest loop of
/// <see cref="Iterations"/> exiting instructions divided by <see cref="Iterations"/>. Each loop also executes DEC and JNZ:
/// <see cref="LoopOnly"/> measures those alone.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("RoundTrip")]
public class ExitRoundTripBenchmarks
{
    public const int Iterations = 100_000;
    private const uint ExitingMsr = 0x10; // IA32_TIME_STAMP_COUNTER

    private readonly Dictionary<string, (VirtualMachine Vm, VCpu VCpu, ulong AfterBody)> _guests = [];
    private RoundTripHandler _handler;

    [GlobalSetup]
    public void Setup()
    {
        Add(nameof(Cpuid), a => { a.xor(eax, eax); a.cpuid(); });
        Add(nameof(Out), a => a.@out(dx, al), prologue: a => a.mov(dx, 0x80));
        Add(nameof(Rdmsr), a => a.rdmsr(), prologue: a => a.mov(ecx, ExitingMsr),
            options: new BenchGuest.Options { ExitingMsrReads = [ExitingMsr] });
        Add(nameof(Vmcall), a => a.vmcall());
        Add(nameof(MmioWrite), a => a.mov(__dword_ptr[rdi], eax), prologue: a => a.mov(rdi, BenchGuest.MmioAddress),
            options: new BenchGuest.Options { Ept = true });
        Add(nameof(Hlt), a => a.hlt(), halt: false);
        Add(nameof(LoopOnly), _ => { });
        // One run each: the loops must do exactly what they claim before they are timed.
        foreach (var name in _guests.Keys) Verify(name);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (vm, _, _) in _guests.Values) vm.Dispose();
    }

    private void Add(string name, Action<Assembler> body, Action<Assembler>? prologue = null, BenchGuest.Options? options = null, bool halt = true)
    {
        var afterBody = default(Label);
        var guest = BenchGuest.Create(a =>
        {
            var loop = a.CreateLabel();
            afterBody = a.CreateLabel();
            prologue?.Invoke(a);
            a.mov(r8d, Iterations);
            a.Label(ref loop);
            body(a);
            if (options?.Ept == true) a.Label(ref afterBody);
            a.dec(r8d);
            a.jnz(loop);
            if (halt) a.hlt();
            else a.@out(RoundTripHandler.EndPort, al);
        }, options);
        _guests[name] = (guest.Vm, guest.VCpu, options?.Ept == true ? guest.Assembled.GetLabelRIP(afterBody) : 0);
    }

    private long RunGuest(string name)
    {
        var (_, vcpu, afterBody) = _guests[name];
        vcpu.Vmcs.Write(VmcsField.GuestRip, BenchGuest.CodeAddress);
        _handler.MmioResumeRip = afterBody;
        _handler.HaltStops = name != nameof(Hlt);
        var result = vcpu.Run(ref _handler);
        if (result.Outcome != RunOutcome.Stopped) throw new InvalidOperationException($"{name}: {result}");
        return vcpu.InstructionsRetired;
    }

    private void Verify(string name)
    {
        var vcpu = _guests[name].VCpu;
        vcpu.Statistics.Reset();
        RunGuest(name);
        long exits = vcpu.Statistics.TotalExits;
        long expected = name == nameof(LoopOnly) ? 1 : Iterations + 1;
        if (exits != expected) throw new InvalidOperationException($"{name}: expected {expected} exits, saw {exits}.");
    }

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long Cpuid() => RunGuest(nameof(Cpuid));

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long Out() => RunGuest(nameof(Out));

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long Rdmsr() => RunGuest(nameof(Rdmsr));

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long Vmcall() => RunGuest(nameof(Vmcall));

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long MmioWrite() => RunGuest(nameof(MmioWrite));

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long Hlt() => RunGuest(nameof(Hlt));

    [Benchmark(OperationsPerInvoke = Iterations, Baseline = true)]
    public long LoopOnly() => RunGuest(nameof(LoopOnly));
}
