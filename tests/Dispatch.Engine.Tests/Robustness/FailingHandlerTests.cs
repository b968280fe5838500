using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// A handler that throws stops its vCPU with <see cref="RunOutcome.HandlerFailed"/>, keeping the exception, the exit
/// reason and the guest state; with several vCPUs the others are stopped cleanly.
/// </summary>
public sealed class FailingHandlerTests
{
    private sealed class HandlerBug(string message) : Exception(message);

    [Fact]
    public void A_throwing_handler_ends_the_run_with_the_exception_the_reason_and_the_guest_state()
    {
        var cpuid = default(Label);
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            cpuid = a.CreateLabel();
            a.mov(rbx, 0x1122_3344_5566_7788);
            a.mov(r15, 0x0F0F);
            a.Label(ref cpuid);
            a.cpuid();
            a.hlt();
        }, out var assembled);
        using (vm)
        {
            var bug = new HandlerBug("handler bug");
            var handler = new RecordingHandler { OnExit = e => e.Reason.Basic == ExitReason.Cpuid ? throw bug : ExitAction.Stop };
            vcpu.Registers.Rax = 7;
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000 });

            Assert.Equal(RunOutcome.HandlerFailed, result.Outcome);
            Assert.Same(bug, result.Exception);
            Assert.Equal(ExitReason.Cpuid, result.LastExit.Basic);
            Assert.Contains("Cpuid", result.ToString());
            // The state is as the exit left it: RIP at CPUID (not advanced), registers untouched.
            ulong cpuidAddress = assembled.GetLabelRIP(cpuid);
            Assert.Equal(cpuidAddress, vcpu.Vmcs.Read(VmcsField.GuestRip));
            Assert.Equal(2UL, vcpu.Vmcs.Read(VmcsField.VmExitInstructionLength));
            Assert.Equal(0x1122_3344_5566_7788UL, vcpu.Registers.Rbx);
            Assert.Equal(0x0F0FUL, vcpu.Registers.R15);
            Assert.Equal(7UL, vcpu.Registers.Rax);

            // The VMM may fix things and run on: CPUID is executed again, then HLT stops.
            handler.OnExit = e => e.Reason.Basic == ExitReason.Hlt ? ExitAction.Stop : ExitAction.Complete;
            handler.Exits.Clear();
            var again = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000 });
            Assert.Equal(RunOutcome.Stopped, again.Outcome);
            Assert.Equal([ExitReason.Cpuid, ExitReason.Hlt], handler.Exits.Select(e => e.Reason.Basic));
        }
    }

    [Fact]
    public void A_handler_throwing_on_a_fault_exit_keeps_the_fault_information()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, __qword_ptr[0x7FFF_0000_0000]); a.hlt(); });
        using (vm)
        {
            var handler = new RecordingHandler { OnExit = _ => throw new InvalidOperationException("no") };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000 });
            Assert.Equal(RunOutcome.HandlerFailed, result.Outcome);
            Assert.IsType<InvalidOperationException>(result.Exception);
            Assert.Equal(ExitReason.ExceptionOrNmi, result.LastExit.Basic);
            Assert.Equal(0x7FFF_0000_0000UL, vcpu.Vmcs.Read(VmcsField.ExitQualification));
            Assert.Equal(TestGuest.CodeAddress, vcpu.Vmcs.Read(VmcsField.GuestRip));
        }
    }

    private sealed class ThrowOnFirstExit(VCpu vcpu) : IExitHandler
    {
        public ExitAction Dispatch(ref ExitContext context) =>
            vcpu.Index == 0 ? throw new HandlerBug($"vCPU {vcpu.Index}") : ExitAction.Complete;
    }

    [Fact]
    public void With_several_vcpus_one_failing_handler_stops_the_others_cleanly()
    {
        // vCPU 0 exits at once (CPUID); the others spin without exits until they are asked to stop.
        using var vm = new VirtualMachine(4 << 20);
        var code = Assemble(a =>
        {
            var spin = a.CreateLabel();
            a.test(rdi, rdi);
            a.jnz(spin);
            a.cpuid();
            a.Label(ref spin);
            a.inc(rax);
            a.jmp(spin);
        });
        vm.Memory.Write(new Memory.GuestPhysicalAddress(TestGuest.CodeAddress), code);
        for (int i = 0; i < 3; i++)
        {
            var v = vm.CreateVCpu();
            Guests.LongModeGuest.Setup(v, TestGuest.CodeAddress, new Guests.LongModeGuestOptions { StackPointer = 0x80000 - (ulong)i * 0x1000 });
            v.Registers.Rdi = (ulong)i;
        }
        var results = vm.RunAll(v => new ThrowOnFirstExit(v), new RunOptions { Timeout = TimeSpan.FromSeconds(30) });

        Assert.Equal(RunOutcome.HandlerFailed, results[0].Outcome);
        Assert.IsType<HandlerBug>(results[0].Exception);
        Assert.Equal(ExitReason.Cpuid, results[0].LastExit.Basic);
        for (int i = 1; i < 3; i++)
        {
            Assert.Equal(RunOutcome.Cancelled, results[i].Outcome);
            Assert.Null(results[i].Exception);
            // Their state is saved and consistent: RIP inside the spin loop.
            Assert.InRange(vm.VCpus[i].Vmcs.Read(VmcsField.GuestRip), TestGuest.CodeAddress, TestGuest.CodeAddress + 0x20);
        }
    }

    [Fact]
    public void A_throwing_handler_factory_fails_its_vcpu_without_taking_the_host_down()
    {
        using var vm = new VirtualMachine(4 << 20);
        vm.Memory.Write(new Memory.GuestPhysicalAddress(TestGuest.CodeAddress), Assemble(a => { var l = a.CreateLabel(); a.Label(ref l); a.jmp(l); }));
        for (int i = 0; i < 2; i++) Guests.LongModeGuest.Setup(vm.CreateVCpu(), TestGuest.CodeAddress);
        var results = vm.RunAll<RecordingHandler>(v => v.Index == 1 ? throw new HandlerBug("factory") : new RecordingHandler(),
            new RunOptions { Timeout = TimeSpan.FromSeconds(30) });
        Assert.Equal(RunOutcome.Cancelled, results[0].Outcome);
        Assert.Equal(RunOutcome.HandlerFailed, results[1].Outcome);
        Assert.IsType<HandlerBug>(results[1].Exception);
    }

    internal static byte[] Assemble(Action<Assembler> program)
    {
        var a = new Assembler(64);
        program(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), TestGuest.CodeAddress);
        return stream.ToArray();
    }
}
