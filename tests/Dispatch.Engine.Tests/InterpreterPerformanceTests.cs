using System.Diagnostics;
using Dispatch.Vmx;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

[CollectionDefinition(nameof(NonParallel), DisableParallelization = true)]
public sealed class NonParallel;

/// <summary>Allocation and throughput of the interpreter loop. Timing is printed, never asserted.</summary>
[Collection(nameof(NonParallel))]
public sealed class InterpreterPerformanceTests(ITestOutputHelper output)
{
    private struct StopHandler : IExitHandler
    {
        public int Exits;

        public ExitAction Dispatch(ref ExitContext context)
        {
            Exits++;
            return ExitAction.Stop;
        }
    }

    private static (VirtualMachine Vm, VCpu VCpu) IntegerLoop(int iterations) => TestGuest.Create(a =>
    {
        var loop = a.CreateLabel();
        a.mov(ecx, iterations);
        a.xor(eax, eax);
        a.mov(rbx, 0x30_0000);
        a.Label(ref loop);
        a.add(rax, rcx);
        a.xor(rdx, rax);
        a.mov(__qword_ptr[rbx], rdx);
        a.mov(rsi, __qword_ptr[rbx + 8]);
        a.sub(rsi, rax);
        a.cmp(rsi, 5);
        a.and(rdx, 0xFFFF);
        a.lea(rdi, __qword_ptr[rdx + rsi * 4 + 8]);
        a.push(rdi);
        a.pop(rdi);
        a.shl(rdx, 3);
        a.dec(ecx);
        a.jne(loop);
        a.hlt();
    });

    private static RunResult RunFromStart(VCpu vcpu, ref StopHandler handler)
    {
        vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
        return vcpu.Run(ref handler);
    }

    [Fact]
    public void IntegerLoop_AllocatesNothingOnceWarm()
    {
        var (vm, vcpu) = IntegerLoop(1_000_000);
        using (vm)
        {
            var handler = new StopHandler();
            var warm = RunFromStart(vcpu, ref handler);
            Assert.Equal(RunOutcome.Stopped, warm.Outcome);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var result = RunFromStart(vcpu, ref handler);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Equal(ExitReason.Hlt, new ExitReasonField(vcpu.Vmcs.Read32(VmcsField.VmExitReason)).Basic);
            Assert.Equal(0, allocated);
        }
    }

    [Fact]
    public void IntegerLoop_Throughput_IsPrinted()
    {
        const int iterations = 2_000_000;
        var (vm, vcpu) = IntegerLoop(iterations);
        using (vm)
        {
            var handler = new StopHandler();
            RunFromStart(vcpu, ref handler);
            long retired = vcpu.InstructionsRetired;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            RunFromStart(vcpu, ref handler);
            watch.Stop();
            var cpuTime = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            long count = vcpu.InstructionsRetired - retired;
            Assert.Equal(13L * iterations + 3, count); // HLT exits, so it does not retire
            output.WriteLine($"{count} instructions in {watch.Elapsed.TotalMilliseconds:F0} ms: {count / watch.Elapsed.TotalSeconds / 1e6:F1} MIPS wall clock, "
                + $"{count / cpuTime.TotalSeconds / 1e6:F1} MIPS per process CPU-second (this build's configuration; Release is several times faster)");
        }
    }
}
