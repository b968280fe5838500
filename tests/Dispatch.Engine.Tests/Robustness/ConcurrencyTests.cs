using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// Several vCPUs hammer shared memory with LOCK-prefixed read-modify-writes while the host keeps stopping and resuming
/// them: the totals are exact, nothing deadlocks, and every vCPU finishes.
/// </summary>
public sealed class ConcurrencyTests
{
    private const ulong XaddCounter = 0x9_0000, CmpxchgCounter = 0x9_0040;
    private const int VCpus = 4;
    // Long enough that the guests are still running when the host starts stopping them, however fast the engine gets.
    private const int Iterations = 400_000;

    private static byte[] Program() => FailingHandlerTests.Assemble(a =>
    {
        var loop = a.CreateLabel();
        var retry = a.CreateLabel();
        a.mov(rcx, Iterations);
        a.Label(ref loop);
        // lock xadd [XaddCounter], 1
        a.mov(edx, 1);
        a.@lock.xadd(__qword_ptr[XaddCounter], rdx);
        // lock cmpxchg loop: [CmpxchgCounter] += 3
        a.mov(rax, __qword_ptr[CmpxchgCounter]);
        a.Label(ref retry);
        a.lea(rbx, __qword_ptr[rax + 3]);
        a.@lock.cmpxchg(__qword_ptr[CmpxchgCounter], rbx);
        a.jnz(retry);
        a.dec(rcx);
        a.jnz(loop);
        a.hlt();
    });

    [Fact]
    public async Task Locked_operations_stay_exact_while_the_host_stops_and_resumes_the_vcpus()
    {
        using var vm = new VirtualMachine(4 << 20);
        vm.Memory.Write(new GuestPhysicalAddress(TestGuest.CodeAddress), Program());
        for (int i = 0; i < VCpus; i++)
            LongModeGuest.Setup(vm.CreateVCpu(), TestGuest.CodeAddress, new LongModeGuestOptions { StackPointer = 0x80000 - (ulong)i * 0x4000 });

        int cancellations = 0;
        var runners = vm.VCpus.Select(vcpu => Task.Factory.StartNew(() =>
        {
            var handler = new RecordingHandler();
            while (true)
            {
                // Small slices too, so budget stops land in the middle of the locked sequences.
                var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1_000_000 + vcpu.Index * 7_777, Timeout = TimeSpan.FromSeconds(60) });
                if (result.Outcome == RunOutcome.Stopped) return result;
                if (result.Outcome == RunOutcome.Cancelled) Interlocked.Increment(ref cancellations);
                else if (result.Outcome != RunOutcome.BudgetExhausted) return result;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        using var stopper = new CancellationTokenSource();
        var host = Task.Factory.StartNew(() =>
        {
            var random = new Random(7);
            // Stops begin once the guests are inside the locked loop, so they land in runs rather than before them.
            while (!stopper.IsCancellationRequested && vm.Memory.ReadUInt64(new GuestPhysicalAddress(XaddCounter)) < VCpus * 1_000)
                Thread.Yield();
            while (!stopper.IsCancellationRequested)
            {
                Thread.SpinWait(random.Next(10_000, 200_000));
                if (random.Next(2) == 0) vm.StopAll();
                else vm.VCpus[random.Next(VCpus)].RequestStop();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var finished = await Task.WhenAll(runners).WaitAsync(TimeSpan.FromSeconds(120));
        stopper.Cancel();
        await host;

        foreach (var r in finished)
        {
            Assert.Equal(RunOutcome.Stopped, r.Outcome);
            Assert.Equal(ExitReason.Hlt, r.LastExit.Basic);
        }
        Assert.Equal((ulong)(VCpus * Iterations), vm.Memory.ReadUInt64(new GuestPhysicalAddress(XaddCounter)));
        Assert.Equal((ulong)(VCpus * Iterations * 3), vm.Memory.ReadUInt64(new GuestPhysicalAddress(CmpxchgCounter)));
        Assert.All(vm.VCpus, v => Assert.Equal(0UL, v.Registers.Rcx));
        Assert.True(cancellations > 0, "the host never managed to stop a vCPU");
    }

    [Fact]
    public async Task RunAll_stopped_and_run_again_reaches_exact_totals()
    {
        using var vm = new VirtualMachine(4 << 20);
        vm.Memory.Write(new GuestPhysicalAddress(TestGuest.CodeAddress), Program());
        for (int i = 0; i < VCpus; i++)
            LongModeGuest.Setup(vm.CreateVCpu(), TestGuest.CodeAddress, new LongModeGuestOptions { StackPointer = 0x80000 - (ulong)i * 0x4000 });

        int rounds = 0;
        RunResult[] results;
        do
        {
            // A vCPU that already halted stops again at once: Stop leaves RIP at its HLT.
            using var timer = new Timer(_ => vm.StopAll(), null, 5 + rounds % 7, Timeout.Infinite);
            results = await Task.Run(() => vm.RunAll(_ => new RecordingHandler(), new RunOptions { Timeout = TimeSpan.FromSeconds(60) }))
                .WaitAsync(TimeSpan.FromSeconds(90));
            Assert.All(results, r => Assert.True(r.Outcome is RunOutcome.Cancelled or RunOutcome.Stopped, r.ToString()));
            rounds++;
        }
        while (results.Any(r => r.Outcome != RunOutcome.Stopped) && rounds < 1000);

        Assert.All(results, r => Assert.Equal(ExitReason.Hlt, r.LastExit.Basic));
        Assert.Equal((ulong)(VCpus * Iterations), vm.Memory.ReadUInt64(new GuestPhysicalAddress(XaddCounter)));
        Assert.Equal((ulong)(VCpus * Iterations * 3), vm.Memory.ReadUInt64(new GuestPhysicalAddress(CmpxchgCounter)));
    }
}
