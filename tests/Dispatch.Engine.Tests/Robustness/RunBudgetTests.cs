using System.Diagnostics;
using Dispatch.Guests;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// A runaway guest stops at an instruction budget, a wall-time budget or the VMX-preemption timer with its state intact
/// and inspectable, and the run continues from there.
/// </summary>
public sealed class RunBudgetTests
{
    // l: inc rax; jmp l  — two instructions per iteration, for ever.
    private static void Spin(Assembler a)
    {
        var loop = a.CreateLabel();
        a.Label(ref loop);
        a.inc(rax);
        a.jmp(loop);
    }

    private static void AssertSavedStateMatches(VCpu vcpu)
    {
        ulong rip = vcpu.Vmcs.Read(VmcsField.GuestRip);
        Assert.InRange(rip, TestGuest.CodeAddress, TestGuest.CodeAddress + 5);
        Assert.Equal(0x80000UL, vcpu.Vmcs.Read(VmcsField.GuestRsp));
        Assert.Equal(LongModeGuest.KernelCodeSelector, (ushort)vcpu.Vmcs.Read(VmcsField.GuestCsSelector));
    }

    [Fact]
    public void The_instruction_budget_stops_a_runaway_guest_and_the_run_continues()
    {
        var (vm, vcpu) = TestGuest.Create(Spin);
        using (vm)
        {
            var handler = new RecordingHandler();
            var first = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000 });
            Assert.Equal(RunOutcome.BudgetExhausted, first.Outcome);
            Assert.Equal(500UL, vcpu.Registers.Rax);
            Assert.Equal(1000, vcpu.InstructionsRetired);
            Assert.Equal(TestGuest.CodeAddress, vcpu.Vmcs.Read(VmcsField.GuestRip));
            AssertSavedStateMatches(vcpu);

            var second = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1001 });
            Assert.Equal(RunOutcome.BudgetExhausted, second.Outcome);
            Assert.Equal(1001UL, vcpu.Registers.Rax);
            Assert.Equal(TestGuest.CodeAddress + 3, vcpu.Vmcs.Read(VmcsField.GuestRip)); // stopped between inc and jmp
            Assert.Empty(handler.Exits);
        }
    }

    [Fact]
    public void The_timeout_stops_a_runaway_guest_and_the_run_continues()
    {
        var (vm, vcpu) = TestGuest.Create(Spin);
        using (vm)
        {
            var handler = new RecordingHandler();
            var clock = Stopwatch.StartNew();
            var result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromMilliseconds(200) });
            Assert.Equal(RunOutcome.BudgetExhausted, result.Outcome);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
            ulong rax = vcpu.Registers.Rax;
            Assert.True(rax > 0);
            Assert.Equal((long)rax * 2, vcpu.InstructionsRetired + (vcpu.Vmcs.Read(VmcsField.GuestRip) == TestGuest.CodeAddress ? 0 : 1));
            AssertSavedStateMatches(vcpu);

            vcpu.Run(ref handler, new RunOptions { MaxInstructions = 10 });
            Assert.Equal(rax + 5, vcpu.Registers.Rax);
        }
    }

    [Fact]
    public void The_VMX_preemption_timer_exits_to_the_handler_and_the_run_continues()
    {
        var (vm, vcpu) = TestGuest.Create(Spin, new LongModeGuestOptions { PinControls = PinBasedControls.ActivateVmxPreemptionTimer });
        using (vm)
        {
            // 3_000_000 ticks of 2^5 ns: about 96 ms.
            vcpu.Vmcs.Write(VmcsField.VmxPreemptionTimerValue, 3_000_000);
            var handler = new RecordingHandler();
            handler.StopOn.Add(ExitReason.VmxPreemptionTimerExpired);
            var result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromSeconds(20) });
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Equal(ExitReason.VmxPreemptionTimerExpired, result.LastExit.Basic);
            ulong rax = vcpu.Registers.Rax;
            Assert.True(rax > 0);
            AssertSavedStateMatches(vcpu);

            // The timer restarts from the VMCS value at the next entry; the guest continues where it stopped.
            vcpu.Vmcs.Write(VmcsField.VmxPreemptionTimerValue, 100_000);
            handler.Exits.Clear();
            result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromSeconds(20) });
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Single(handler.Exits);
            Assert.True(vcpu.Registers.Rax > rax);
        }
    }

    [Fact]
    public void RequestStop_from_another_thread_cancels_and_the_run_continues()
    {
        var (vm, vcpu) = TestGuest.Create(Spin);
        using (vm)
        {
            var handler = new RecordingHandler();
            using var timer = new Timer(_ => vcpu.RequestStop(), null, 100, Timeout.Infinite);
            var result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromSeconds(20) });
            Assert.Equal(RunOutcome.Cancelled, result.Outcome);
            ulong rax = vcpu.Registers.Rax;
            AssertSavedStateMatches(vcpu);
            vcpu.Run(ref handler, new RunOptions { MaxInstructions = 20 });
            Assert.Equal(rax + 10, vcpu.Registers.Rax);
        }
    }

    [Fact]
    public void A_guest_that_faults_in_a_loop_through_its_own_IDT_still_reaches_the_budget()
    {
        // #UD whose handler is the faulting instruction itself: nothing ever retires.
        var (vm, vcpu) = TestGuest.Create(a => a.ud2(), new LongModeGuestOptions { ExceptionBitmap = 0 });
        using (vm)
        {
            LongModeGuest.SetInterruptGate(vm, ExceptionVector.InvalidOpcode, TestGuest.CodeAddress);
            vcpu.Registers.Rsp = 0x80000;
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000, Timeout = TimeSpan.FromSeconds(20) });
            // Each delivery aligns RSP down to 16 and pushes 40 bytes: 1000 of them stay far above the bottom of the stack.
            Assert.Equal(RunOutcome.BudgetExhausted, result.Outcome);
            Assert.Equal(0, vcpu.InstructionsRetired);
            Assert.Equal(0x80000UL - (40 + 999 * 48), vcpu.Registers.Rsp);
            Assert.Equal(TestGuest.CodeAddress, vcpu.Vmcs.Read(VmcsField.GuestRip));
        }
    }

    [Fact]
    public void A_handler_that_resumes_a_faulting_guest_still_reaches_the_budget_and_the_timeout()
    {
        // Every exception exits and the handler answers Complete: the guest faults again at once, for ever.
        var (vm, vcpu) = TestGuest.Create(a => a.ud2());
        using (vm)
        {
            var handler = new RecordingHandler { OnExit = _ => ExitAction.Complete };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000 });
            Assert.Equal(RunOutcome.BudgetExhausted, result.Outcome);
            Assert.Equal(1000, handler.Exits.Count);
            Assert.Equal(TestGuest.CodeAddress, vcpu.Vmcs.Read(VmcsField.GuestRip));

            var clock = Stopwatch.StartNew();
            result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromMilliseconds(200) });
            Assert.Equal(RunOutcome.BudgetExhausted, result.Outcome);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void A_handler_that_resumes_into_an_exit_on_entry_still_reaches_the_budget()
    {
        // A zero preemption timer exits before the first instruction, on every entry.
        var (vm, vcpu) = TestGuest.Create(Spin, new LongModeGuestOptions { PinControls = PinBasedControls.ActivateVmxPreemptionTimer });
        using (vm)
        {
            vcpu.Vmcs.Write(VmcsField.VmxPreemptionTimerValue, 0);
            var handler = new RecordingHandler { OnExit = _ => ExitAction.Complete };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 500, Timeout = TimeSpan.FromSeconds(20) });
            Assert.Equal(RunOutcome.BudgetExhausted, result.Outcome);
            Assert.Equal(500, handler.Exits.Count);
            Assert.Equal(0, vcpu.InstructionsRetired);
        }
    }

    [Fact]
    public void A_REP_string_instruction_over_gigabytes_of_unbacked_memory_stops_at_the_timeout_and_continues()
    {
        // 64 GiB identity-mapped over 4 MiB of RAM: a single rep stosb with RCX = 2^40 would run for hours.
        var (vm, vcpu) = TestGuest.Create(a => { a.rep.stosb(); a.hlt(); }, new LongModeGuestOptions { IdentityMapSize = 64UL << 30 });
        using (vm)
        {
            vcpu.Registers.Rdi = 4 << 20;
            vcpu.Registers.Rcx = 1UL << 40;
            var handler = new RecordingHandler();
            var clock = Stopwatch.StartNew();
            var result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromMilliseconds(300) });
            Assert.Equal(RunOutcome.BudgetExhausted, result.Outcome);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(10));
            // Interrupted between iterations: RIP at the instruction, RCX and RDI consistent with each other.
            Assert.Equal(TestGuest.CodeAddress, vcpu.Vmcs.Read(VmcsField.GuestRip));
            ulong done = (1UL << 40) - vcpu.Registers.Rcx;
            Assert.True(done > 0);
            Assert.Equal((4UL << 20) + done, vcpu.Registers.Rdi);

            // It continues from there, and RequestStop reaches it too.
            using var timer = new Timer(_ => vcpu.RequestStop(), null, 200, Timeout.Infinite);
            result = vcpu.Run(ref handler, new RunOptions { Timeout = TimeSpan.FromSeconds(20) });
            Assert.Equal(RunOutcome.Cancelled, result.Outcome);
            Assert.True((1UL << 40) - vcpu.Registers.Rcx > done);
            Assert.Equal((4UL << 20) + (1UL << 40) - vcpu.Registers.Rcx, vcpu.Registers.Rdi);
        }
    }

    [Fact]
    public void Instructions_retired_before_a_faulting_memory_operand_in_the_same_block_are_counted()
    {
        // Four moves retire; the read-modify-write of an unmapped address faults (#PF exits) and does not.
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(eax, 1);
            a.mov(ecx, 2);
            a.mov(edx, 3);
            a.mov(rbx, 0x7F00_0000_0000);
            a.add(__dword_ptr[rbx], eax);
            a.hlt();
        });
        using (vm)
        {
            var handler = new RecordingHandler();
            vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000 });
            Assert.Equal(ExitReason.ExceptionOrNmi, handler.Exits[0].Reason.Basic);
            Assert.Equal(4, vcpu.InstructionsRetired);
        }
    }
}
