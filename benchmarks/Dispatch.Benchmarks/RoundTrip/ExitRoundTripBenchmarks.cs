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
/// <see cref="ExitKind.LoopOnly"/> measures those alone. <see cref="ExitKind.CpuidVmcsWrite"/> is the CPUID loop with a
/// handler that also writes a VMCS field on every exit (the CR4 read shadow), as handlers that inject events or keep
/// shadows do: the next VM entry then cannot take the unchanged-VMCS path. Without VPID such an entry also flushes the
/// guest's TLB (as VM entries without VPID invalidate linear mappings), so both it and <see cref="ExitKind.MmioWrite"/>,
/// whose handler writes guest RIP, are also measured with VPID on (the <c>Vpid</c> kinds), as a VMM that has VPID uses it.
/// </summary>
public enum ExitKind { Cpuid, CpuidVmcsWrite, CpuidVmcsWriteVpid, Out, Rdmsr, Vmcall, MmioWrite, MmioWriteVpid, Hlt, LoopOnly }

[MemoryDiagnoser]
[BenchmarkCategory("RoundTrip")]
public class ExitRoundTripBenchmarks
{
    public const int Iterations = 100_000;
    private const uint ExitingMsr = 0x10; // IA32_TIME_STAMP_COUNTER

    [Params(ExitKind.Cpuid, ExitKind.CpuidVmcsWrite, ExitKind.CpuidVmcsWriteVpid, ExitKind.Out, ExitKind.Rdmsr, ExitKind.Vmcall,
        ExitKind.MmioWrite, ExitKind.MmioWriteVpid, ExitKind.Hlt, ExitKind.LoopOnly)]
    public ExitKind Kind { get; set; }

    private VirtualMachine _vm = null!;
    private VCpu _vcpu = null!;
    private RoundTripHandler _handler;

    [GlobalSetup]
    public void Setup()
    {
        switch (Kind)
        {
            case ExitKind.Cpuid:
            case ExitKind.CpuidVmcsWrite:
                Create(a => { a.xor(eax, eax); a.cpuid(); });
                break;
            case ExitKind.CpuidVmcsWriteVpid:
                Create(a => { a.xor(eax, eax); a.cpuid(); }, options: new BenchGuest.Options { Vpid = true });
                break;
            case ExitKind.Out: Create(a => a.@out(dx, al), prologue: a => a.mov(dx, 0x80)); break;
            case ExitKind.Rdmsr:
                Create(a => a.rdmsr(), prologue: a => a.mov(ecx, ExitingMsr), options: new BenchGuest.Options { ExitingMsrReads = [ExitingMsr] });
                break;
            case ExitKind.Vmcall: Create(a => a.vmcall()); break;
            case ExitKind.MmioWrite:
            case ExitKind.MmioWriteVpid:
                Create(a => a.mov(__dword_ptr[rdi], eax), prologue: a => a.mov(rdi, BenchGuest.MmioAddress),
                    options: new BenchGuest.Options { Ept = true, Vpid = Kind == ExitKind.MmioWriteVpid });
                break;
            case ExitKind.Hlt: Create(a => a.hlt(), halt: false); break;
            case ExitKind.LoopOnly: Create(_ => { }); break;
        }
        // One run first: the loop must do exactly what it claims before it is timed.
        _vcpu.Statistics.Reset();
        RoundTrip();
        long exits = _vcpu.Statistics.TotalExits;
        long expected = Kind == ExitKind.LoopOnly ? 1 : Iterations + 1;
        if (exits != expected) throw new InvalidOperationException($"{Kind}: expected {expected} exits, saw {exits}.");
    }

    [GlobalCleanup]
    public void Cleanup() => _vm.Dispose();

    private void Create(Action<Assembler> body, Action<Assembler>? prologue = null, BenchGuest.Options? options = null, bool halt = true)
    {
        var afterBody = default(Label);
        bool ept = options?.Ept == true;
        var guest = BenchGuest.Create(a =>
        {
            var loop = a.CreateLabel();
            afterBody = a.CreateLabel();
            prologue?.Invoke(a);
            a.mov(r8d, Iterations);
            a.Label(ref loop);
            body(a);
            if (ept) a.Label(ref afterBody);
            a.dec(r8d);
            a.jnz(loop);
            if (halt) a.hlt();
            else a.@out(RoundTripHandler.EndPort, al);
        }, options);
        (_vm, _vcpu) = (guest.Vm, guest.VCpu);
        _handler.MmioResumeRip = ept ? guest.Assembled.GetLabelRIP(afterBody) : 0;
        _handler.HaltStops = Kind != ExitKind.Hlt;
        _handler.CpuidWritesVmcs = Kind is ExitKind.CpuidVmcsWrite or ExitKind.CpuidVmcsWriteVpid;
    }

    [Benchmark(OperationsPerInvoke = Iterations)]
    public long RoundTrip()
    {
        _vcpu.Vmcs.Write(VmcsField.GuestRip, BenchGuest.CodeAddress);
        var result = _vcpu.Run(ref _handler);
        if (result.Outcome != RunOutcome.Stopped) throw new InvalidOperationException($"{Kind}: {result}");
        return _vcpu.InstructionsRetired;
    }
}
