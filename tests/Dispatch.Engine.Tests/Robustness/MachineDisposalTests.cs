using Dispatch.Memory;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// Disposing a machine whose vCPU runs on another thread (a watchdog giving up, a host shutting down) stops the vCPU and
/// releases the guest memory only after the run has returned: the guest never writes freed host memory.
/// </summary>
public sealed class MachineDisposalTests
{
    [Fact]
    public async Task Disposing_a_machine_while_a_vcpu_runs_stops_it_before_the_memory_goes()
    {
        // A guest storing to memory in a loop: it would write freed host memory if the release did not wait for the run.
        var (vm, vcpu) = TestGuest.Create(a => { var l = a.CreateLabel(); a.Label(ref l); a.inc(Iced.Intel.AssemblerRegisters.__qword_ptr[0x9000]); a.jmp(l); });
        var run = Task.Factory.StartNew(() =>
        {
            var handler = new RecordingHandler();
            return vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromSeconds(60) });
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        while (vm.Memory.ReadUInt64(new GuestPhysicalAddress(0x9000)) < 1000) await Task.Yield();

        vm.Dispose();
        Assert.True(vm.Memory.IsDisposed);
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        Assert.False(vm.Memory.IsBacked(new GuestPhysicalAddress(0x9000)));
        var handler = new RecordingHandler();
        Assert.Throws<ObjectDisposedException>(() => vcpu.Run(ref handler, new RunOptions { MaxInstructions = 100 }));
    }
}
