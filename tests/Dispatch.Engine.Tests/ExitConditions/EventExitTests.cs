using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using P = Dispatch.Vmx.PrimaryProcessorControls;
using Pin = Dispatch.Vmx.PinBasedControls;

namespace Dispatch.Engine.Tests.ExitConditions;

/// <summary>Exceptions by the bitmap, triple fault, windows, external interrupts, MTF, the preemption timer, injection.</summary>
public sealed class EventExitTests
{
    [Fact]
    public void Ud2_ExitsByTheExceptionBitmap_WithHardwareExceptionInformation()
    {
        var run = GuestRun.Execute(a => { a.ud2(); a.hlt(); }, GuestRun.With(P.HltExiting, exceptionBitmap: 1u << 6));
        var e = run.Single(ExitReason.ExceptionOrNmi);
        Assert.Equal((ExceptionVector.InvalidOpcode, InterruptionType.HardwareException, false, true),
            (e.Interruption.Vector, e.Interruption.Type, e.Interruption.HasErrorCode, e.Interruption.IsValid));
        Assert.Equal(TestGuest.CodeAddress, e.Rip);
    }

    [Fact]
    public void Ud2_WithoutItsBitmapBit_IsDeliveredThroughTheGuestIdt()
    {
        Label handler = default;
        var run = GuestRun.Execute(a =>
        {
            handler = a.CreateLabel();
            a.ud2();
            a.hlt();
            a.Label(ref handler);
            a.mov(rbx, __qword_ptr[rsp]);   // the pushed RIP: the faulting UD2
            a.hlt();
        }, GuestRun.With(P.HltExiting, exceptionBitmap: 0), configure: v =>
            Guests.LongModeGuest.SetInterruptGate(v.Machine, ExceptionVector.InvalidOpcode, TestGuest.CodeAddress + 3));
        Assert.Equal([ExitReason.Hlt], run.Exits.Select(e => e.Reason.Basic));
        Assert.Equal(TestGuest.CodeAddress, run.VCpu.Registers.Rbx);
    }

    [Fact]
    public void PageFault_ExitsByTheErrorCodeMaskMatchRule()
    {
        // A not-present read: error code 0. Bit 14 set and mask/match matching (0 & 1 == 0): exits.
        void Program(Assembler a) { a.mov(rax, 0x7F00_0000_0000); a.mov(rbx, __qword_ptr[rax]); a.hlt(); }
        var exits = GuestRun.Execute(Program, GuestRun.With(P.HltExiting, exceptionBitmap: 1u << 14), configure: v =>
        {
            v.Vmcs.Write(VmcsField.PageFaultErrorCodeMask, 1);
            v.Vmcs.Write(VmcsField.PageFaultErrorCodeMatch, 0);
        });
        var e = exits.Single(ExitReason.ExceptionOrNmi);
        Assert.Equal(ExceptionVector.PageFault, e.Interruption.Vector);
        Assert.True(e.Interruption.HasErrorCode);
        Assert.Equal(0u, e.InterruptionErrorCode);
        Assert.Equal(0x7F00_0000_0000UL, e.Qualification);

        // Same fault, match requires P = 1: no match, so bit 14 set means no exit. Delivery through an empty IDT ends in a
        // triple fault.
        var noExit = GuestRun.Execute(Program, GuestRun.With(P.HltExiting, exceptionBitmap: 1u << 14), configure: v =>
        {
            v.Vmcs.Write(VmcsField.PageFaultErrorCodeMask, 1);
            v.Vmcs.Write(VmcsField.PageFaultErrorCodeMatch, 1);
        });
        Assert.Equal([ExitReason.TripleFault], noExit.Exits.Select(x => x.Reason.Basic));
    }

    [Fact]
    public void FaultWithNoIdt_EscalatesToATripleFaultExit()
    {
        var run = GuestRun.Execute(a => { a.ud2(); }, GuestRun.With(P.HltExiting, exceptionBitmap: 0));
        run.Single(ExitReason.TripleFault);
        Assert.Equal(RunOutcome.Stopped, run.Result.Outcome);
    }

    [Fact]
    public void InjectedException_IsDeliveredThroughTheIdtOnEntry()
    {
        // The handler answers VMCALL by injecting #UD; the guest's #UD handler records the vector it got via its IDT entry.
        var run = GuestRun.Execute(a =>
        {
            a.vmcall();
            a.hlt();
            a.mov(ebx, 0x66);        // #UD handler at code + 4
            a.hlt();
        }, GuestRun.With(P.HltExiting, exceptionBitmap: 0), configure: v =>
            Guests.LongModeGuest.SetInterruptGate(v.Machine, ExceptionVector.InvalidOpcode, TestGuest.CodeAddress + 4),
            onExit: e => e.Reason.Basic == ExitReason.Vmcall ? ExitAction.InjectException(ExceptionVector.InvalidOpcode) : ExitAction.Stop);
        Assert.Equal([ExitReason.Vmcall, ExitReason.Hlt], run.Exits.Select(e => e.Reason.Basic));
        Assert.Equal(0x66UL, run.VCpu.Registers.Rbx);
    }

    [Fact]
    public void MonitorTrapFlag_ExitsAfterEveryInstruction_TrapLike()
    {
        var run = GuestRun.Execute(a => { a.nop(); a.nop(); a.hlt(); }, GuestRun.With(P.HltExiting | P.MonitorTrapFlag), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal([ExitReason.MonitorTrapFlag, ExitReason.MonitorTrapFlag, ExitReason.Hlt], run.Exits.Select(e => e.Reason.Basic));
        Assert.Equal([TestGuest.CodeAddress + 1, TestGuest.CodeAddress + 2, TestGuest.CodeAddress + 2], run.Exits.Select(e => e.Rip));
    }

    [Fact]
    public void PreemptionTimerOfZero_ExitsBeforeTheFirstInstruction()
    {
        var run = GuestRun.Execute(a => { a.nop(); a.hlt(); }, GuestRun.With(P.HltExiting, pin: Pin.ActivateVmxPreemptionTimer),
            configure: v => v.Vmcs.Write(VmcsField.VmxPreemptionTimerValue, 0));
        Assert.Equal(ExitReason.VmxPreemptionTimerExpired, run.Exits[0].Reason.Basic);
        Assert.Equal(TestGuest.CodeAddress, run.Exits[0].Rip);
    }

    [Fact]
    public void PreemptionTimer_StopsASpinningGuest_AndIsNotArmedWithoutTheControl()
    {
        Label spin = default;
        void Program(Assembler a) { spin = a.CreateLabel(); a.Label(ref spin); a.jmp(spin); }
        var run = GuestRun.Execute(Program, GuestRun.With(P.HltExiting, pin: Pin.ActivateVmxPreemptionTimer),
            configure: v => v.Vmcs.Write(VmcsField.VmxPreemptionTimerValue, 1000), maxInstructions: long.MaxValue,
            onExit: e => ExitAction.Stop);
        Assert.Equal(ExitReason.VmxPreemptionTimerExpired, run.Exits[0].Reason.Basic);

        var plain = GuestRun.Execute(Program, GuestRun.With(P.HltExiting), maxInstructions: 200_000);
        Assert.Equal(RunOutcome.BudgetExhausted, plain.Result.Outcome);
        Assert.Empty(plain.Exits);
    }

    [Fact]
    public void InterruptWindow_ExitsWhenIfIsSetAndNotBlocked()
    {
        var run = GuestRun.Execute(a => { a.nop(); a.sti(); a.nop(); a.nop(); a.hlt(); }, GuestRun.With(P.HltExiting | P.InterruptWindowExiting),
            onExit: e => ExitAction.Stop);
        var e = run.Single(ExitReason.InterruptWindow);
        // STI blocks for one instruction: the window opens after the NOP that follows it.
        Assert.Equal(TestGuest.CodeAddress + 3, e.Rip);
    }

    [Fact]
    public void ExternalInterrupt_ExitsWithAcknowledgeOnExit_ReportingTheVector()
    {
        var run = GuestRun.Execute(a => { a.nop(); a.hlt(); }, GuestRun.With(P.HltExiting, pin: Pin.ExternalInterruptExiting), configure: v =>
        {
            v.Vmcs.Write(VmcsField.PrimaryVmExitControls, v.Vmcs.Read(VmcsField.PrimaryVmExitControls) | (uint)VmExitControls.AcknowledgeInterruptOnExit);
            v.RaiseExternalInterrupt(0x30);
        }, onExit: e => ExitAction.Stop);
        var e = run.Single(ExitReason.ExternalInterrupt);
        Assert.Equal((0x30, InterruptionType.ExternalInterrupt, true), (e.Interruption.Vector, e.Interruption.Type, e.Interruption.IsValid));
    }
}
