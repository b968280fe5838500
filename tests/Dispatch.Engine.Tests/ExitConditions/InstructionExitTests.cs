using Dispatch.Vmx;
using static Iced.Intel.AssemblerRegisters;
using P = Dispatch.Vmx.PrimaryProcessorControls;
using S = Dispatch.Vmx.SecondaryProcessorControls;

namespace Dispatch.Engine.Tests.ExitConditions;

/// <summary>
/// Instructions that exit by a VM-execution control (Intel SDM Vol. 3C, 26.1.3), each with a twin run where the control is
/// clear and the instruction executes in the guest instead.
/// </summary>
public sealed class InstructionExitTests
{
    [Fact]
    public void Hlt_ExitsWithHltExiting_AndHaltsTheGuestWithout()
    {
        var exiting = GuestRun.Execute(a => a.hlt(), GuestRun.With(P.HltExiting));
        var e = exiting.Single(ExitReason.Hlt);
        Assert.Equal(1, e.InstructionLength);
        Assert.Equal(TestGuest.CodeAddress, e.Rip);

        var plain = GuestRun.Execute(a => a.hlt(), GuestRun.With(P.None));
        Assert.Equal(RunOutcome.Halted, plain.Result.Outcome);
        Assert.Empty(plain.Exits);
    }

    [Fact]
    public void Rdtsc_ExitsWithRdtscExiting_AndReadsTheClockWithout()
    {
        var exiting = GuestRun.Execute(a => { a.rdtsc(); a.hlt(); }, GuestRun.With(P.HltExiting | P.RdtscExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal(2, exiting.Single(ExitReason.Rdtsc).InstructionLength);

        var plain = GuestRun.Execute(a => { a.rdtsc(); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.DoesNotContain(plain.Exits, e => e.Reason.Basic == ExitReason.Rdtsc);
        Assert.NotEqual(0UL, (plain.VCpu.Registers.Rdx << 32) | plain.VCpu.Registers.Rax);
    }

    [Fact]
    public void Rdtsc_WithTscOffsetting_AddsTheOffset()
    {
        const ulong offset = 1UL << 62;
        var run = GuestRun.Execute(a => { a.rdtsc(); a.hlt(); }, GuestRun.With(P.HltExiting | P.UseTscOffsetting),
            configure: v => v.Vmcs.Write(VmcsField.TscOffset, offset));
        ulong tsc = (run.VCpu.Registers.Rdx << 32) | (uint)run.VCpu.Registers.Rax;
        Assert.True(tsc >= offset, $"TSC 0x{tsc:X} should include the offset 0x{offset:X}");
    }

    [Fact]
    public void Invlpg_ExitsWithTheLinearAddressAsQualification()
    {
        var exiting = GuestRun.Execute(a => { a.mov(rax, 0x12345000); a.invlpg(__byte_ptr[rax + 0x10]); a.hlt(); },
            GuestRun.With(P.HltExiting | P.InvlpgExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal(0x12345010UL, exiting.Single(ExitReason.Invlpg).Qualification);

        var plain = GuestRun.Execute(a => { a.mov(rax, 0x12345000); a.invlpg(__byte_ptr[rax]); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal([ExitReason.Hlt], plain.Exits.Select(e => e.Reason.Basic));
    }

    [Fact]
    public void Rdpmc_ExitsWithRdpmcExiting_AndFaultsWithout()
    {
        var exiting = GuestRun.Execute(a => { a.xor(ecx, ecx); a.rdpmc(); a.hlt(); }, GuestRun.With(P.HltExiting | P.RdpmcExiting), onExit: GuestRun.CompleteUntilHlt);
        exiting.Single(ExitReason.Rdpmc);

        var plain = GuestRun.Execute(a => { a.xor(ecx, ecx); a.rdpmc(); a.hlt(); }, GuestRun.With(P.HltExiting));
        var fault = plain.Single(ExitReason.ExceptionOrNmi);
        Assert.Equal(ExceptionVector.GeneralProtection, fault.Interruption.Vector);
    }

    [Fact]
    public void Pause_ExitsOnlyWithPauseExiting()
    {
        var exiting = GuestRun.Execute(a => { a.pause(); a.hlt(); }, GuestRun.With(P.HltExiting | P.PauseExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal(2, exiting.Single(ExitReason.Pause).InstructionLength);
        var plain = GuestRun.Execute(a => { a.pause(); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal([ExitReason.Hlt], plain.Exits.Select(e => e.Reason.Basic));
    }

    [Fact]
    public void MonitorAndMwait_ExitWithTheirControls_AndAreUndefinedWithout()
    {
        var exiting = GuestRun.Execute(a => { a.mov(rax, 0x1000); a.xor(ecx, ecx); a.xor(edx, edx); a.monitor(); a.mwait(); a.hlt(); },
            GuestRun.With(P.HltExiting | P.MonitorExiting | P.MwaitExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal([ExitReason.Monitor, ExitReason.Mwait, ExitReason.Hlt], exiting.Exits.Select(e => e.Reason.Basic));

        var plain = GuestRun.Execute(a => { a.mov(rax, 0x1000); a.xor(ecx, ecx); a.xor(edx, edx); a.monitor(); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal(ExceptionVector.InvalidOpcode, plain.Single(ExitReason.ExceptionOrNmi).Interruption.Vector);
    }

    [Fact]
    public void Wbinvd_ExitsWithTheSecondaryControl_InvdAlways()
    {
        var exiting = GuestRun.Execute(a => { a.wbinvd(); a.invd(); a.hlt(); }, GuestRun.With(P.HltExiting, S.WbinvdExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal([ExitReason.Wbinvd, ExitReason.Invd, ExitReason.Hlt], exiting.Exits.Select(e => e.Reason.Basic));

        var plain = GuestRun.Execute(a => { a.wbinvd(); a.invd(); a.hlt(); }, GuestRun.With(P.HltExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal([ExitReason.Invd, ExitReason.Hlt], plain.Exits.Select(e => e.Reason.Basic));
    }

    [Fact]
    public void Rdrand_ExitsWithRdrandExiting_AndReportsTheDestinationRegister()
    {
        var exiting = GuestRun.Execute(a => { a.rdrand(r9); a.hlt(); }, GuestRun.With(P.HltExiting, S.RdrandExiting), onExit: GuestRun.CompleteUntilHlt);
        var e = exiting.Single(ExitReason.Rdrand);
        Assert.Equal(9u, (e.InstructionInformation >> 3) & 0xF);
        Assert.Equal(2u, (e.InstructionInformation >> 11) & 3); // 64-bit operand

        var plain = GuestRun.Execute(a => { a.rdrand(r9); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal([ExitReason.Hlt], plain.Exits.Select(x => x.Reason.Basic));
    }

    [Fact]
    public void DescriptorTableExiting_ReportsTheInstructionIdentity()
    {
        var exiting = GuestRun.Execute(a => { a.mov(rax, 0x9000); a.sgdt(__[rax]); a.sidt(__[rax]); a.hlt(); },
            GuestRun.With(P.HltExiting, S.DescriptorTableExiting), onExit: GuestRun.CompleteUntilHlt);
        var exits = exiting.Exits.Where(x => x.Reason.Basic == ExitReason.GdtrIdtrAccess).ToList();
        Assert.Equal(2, exits.Count);
        Assert.Equal(0u, exits[0].InstructionInformation >> 28); // SGDT
        Assert.Equal(1u, exits[1].InstructionInformation >> 28); // SIDT
        Assert.Equal(0u, (exits[0].InstructionInformation >> 23) & 0xF); // base register RAX
        Assert.Equal(0u, (exits[0].InstructionInformation >> 27) & 1); // base valid

        var plain = GuestRun.Execute(a => { a.mov(rax, 0x9000); a.sgdt(__[rax]); a.mov(rbx, __qword_ptr[rax + 2]); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal(Guests.LongModeGuest.GdtAddress, plain.VCpu.Registers.Rbx);
    }

    [Fact]
    public void Vmcall_AndVmxInstructions_AlwaysExit_WithInstructionInformation()
    {
        var run = GuestRun.Execute(a => { a.vmcall(); a.mov(rbx, 0x2000); a.vmptrld(__qword_ptr[rbx + 8]); a.vmread(rcx, rdx); a.hlt(); },
            GuestRun.With(P.HltExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal([ExitReason.Vmcall, ExitReason.Vmptrld, ExitReason.Vmread, ExitReason.Hlt], run.Exits.Select(e => e.Reason.Basic));
        var vmptrld = run.Exits[1];
        Assert.Equal(8UL, vmptrld.Qualification); // displacement
        Assert.Equal(3u, (vmptrld.InstructionInformation >> 23) & 0xF); // base RBX
        Assert.Equal(1u, (vmptrld.InstructionInformation >> 22) & 1); // no index register
        Assert.Equal(1u, (run.Exits[2].InstructionInformation >> 10) & 1); // register operand
        Assert.Equal(1u, (run.Exits[2].InstructionInformation >> 3) & 0xF); // reg1 = RCX (destination)
        Assert.Equal(2u, run.Exits[2].InstructionInformation >> 28); // reg2 = RDX (field encoding)
    }
}
