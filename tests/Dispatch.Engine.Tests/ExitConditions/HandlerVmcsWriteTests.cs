using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>
/// Handlers that write the VMCS on every exit: the next entry re-runs only the VM-entry checks whose inputs changed, and
/// still fails exactly as a full check would when a write is invalid (Intel SDM Vol. 3C, 27.1-27.3).
/// </summary>
public sealed class HandlerVmcsWriteTests
{
    [Fact]
    public void ShadowWrittenOnEveryExit_GuestSeesTheLastOne()
    {
        // CR4.VMXE is owned by the host (guest/host mask bit 13): MOV from CR4 returns the read shadow's bit 13. The
        // handler flips the shadow on every CPUID exit; after 51 exits it is set.
        int exits = 0;
        VCpu? vcpu = null;
        var run = GuestRun.Execute(a =>
        {
            var loop = a.CreateLabel();
            a.mov(r8d, 51);
            a.Label(ref loop);
            a.xor(eax, eax);
            a.cpuid();
            a.dec(r8d);
            a.jnz(loop);
            a.mov(rax, cr4);
            a.hlt();
        }, configure: v => { vcpu = v; v.Vmcs.Write(VmcsField.Cr4GuestHostMask, 1UL << 13); }, onExit: e =>
        {
            if (e.Reason.Basic == ExitReason.Hlt) return ExitAction.Stop;
            vcpu!.Vmcs.Write(VmcsField.Cr4ReadShadow, (++exits & 1) != 0 ? 1UL << 13 : 0);
            return ExitAction.Complete;
        });
        Assert.Equal(RunOutcome.Stopped, run.Result.Outcome);
        Assert.Equal(52, run.Exits.Count);
        Assert.Equal(1UL << 13, run.Exits[^1].Rax & (1UL << 13));
    }

    [Fact]
    public void InvalidGuestRflagsWrittenByAHandler_FailsEntryAsAFullCheck()
    {
        int exits = 0;
        VCpu? vcpu = null;
        var run = GuestRun.Execute(a => GuestPrograms.CpuidLoop(a, 100), configure: v => vcpu = v, onExit: e =>
        {
            if (e.Reason.IsEntryFailure) return ExitAction.Stop;
            // Valid writes first (RIP past CPUID is done by Complete; the shadow each time), then a reserved RFLAGS bit.
            vcpu!.Vmcs.Write(VmcsField.Cr0ReadShadow, (ulong)exits);
            if (++exits == 10) vcpu.Vmcs.Write(VmcsField.GuestRflags, vcpu.Vmcs.Read(VmcsField.GuestRflags) | (1UL << 3));
            return ExitAction.Complete;
        });
        var failure = run.Exits[^1];
        Assert.True(failure.Reason.IsEntryFailure);
        Assert.Equal(ExitReason.EntryFailureGuestState, failure.Reason.Basic);
        Assert.Equal(11, run.Exits.Count);
        Assert.Equal("GuestRflagsReservedBitsZero", run.VCpu.LastEntryCheck.FailedCheckName);
    }

    [Fact]
    public void InvalidControlWrittenByAHandler_FailsEntryWithVmFailValid()
    {
        int exits = 0;
        VCpu? vcpu = null;
        var run = GuestRun.Execute(a => GuestPrograms.CpuidLoop(a, 100), configure: v => vcpu = v, onExit: _ =>
        {
            vcpu!.Vmcs.Write(VmcsField.Cr4ReadShadow, (ulong)exits);
            if (++exits == 5) vcpu.Vmcs.Write(VmcsField.Cr3TargetCount, 5);
            return ExitAction.Complete;
        });
        Assert.Equal(RunOutcome.EntryFailed, run.Result.Outcome);
        Assert.Equal(VmInstructionError.EntryInvalidControlFields, run.Result.InstructionError);
        Assert.Equal(5, run.Exits.Count);
        Assert.Equal("Cr3TargetCountSupported", run.VCpu.LastEntryCheck.FailedCheckName);
    }

    [Fact]
    public void InjectionFromAHandler_IsCheckedOnEachEntry()
    {
        // A #BP injected as a software exception without an instruction length fails the event-injection check.
        int exits = 0;
        VCpu? vcpu = null;
        var run = GuestRun.Execute(a => GuestPrograms.CpuidLoop(a, 100), configure: v => vcpu = v, onExit: _ =>
        {
            if (++exits < 3) return ExitAction.Complete;
            vcpu!.Vmcs.Write(VmcsField.VmEntryInterruptionInformation, InterruptionInfo.Create(ExceptionVector.Breakpoint, InterruptionType.SoftwareException).Raw | InterruptionInfo.ValidBit);
            vcpu.Vmcs.Write(VmcsField.VmEntryInstructionLength, 0);
            return ExitAction.Resume;
        });
        Assert.Equal(RunOutcome.EntryFailed, run.Result.Outcome);
        Assert.Equal("EventInjectionInstructionLengthValid", run.VCpu.LastEntryCheck.FailedCheckName);
    }
}
