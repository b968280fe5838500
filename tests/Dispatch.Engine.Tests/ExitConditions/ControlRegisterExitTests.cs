using Dispatch.Vmx;
using static Iced.Intel.AssemblerRegisters;
using P = Dispatch.Vmx.PrimaryProcessorControls;

namespace Dispatch.Engine.Tests.ExitConditions;

/// <summary>CR and DR accesses under the guest/host masks, read shadows, CR3-target list and CR8/MOV-DR exiting (26.1.3).</summary>
public sealed class ControlRegisterExitTests
{
    [Fact]
    public void MovToCr3_ExitsWithCr3LoadExiting_UnlessTheValueIsATarget()
    {
        var exiting = GuestRun.Execute(a => { a.mov(r10, cr3); a.mov(cr3, r10); a.hlt(); },
            GuestRun.With(P.HltExiting | P.Cr3LoadExiting), onExit: GuestRun.CompleteUntilHlt);
        var q = new CrAccessQualification(exiting.Single(ExitReason.CrAccess).Qualification);
        Assert.Equal(3, q.ControlRegister);
        Assert.Equal(CrAccessType.MovToCr, q.AccessType);
        Assert.Equal(10, q.GeneralRegister);

        var target = GuestRun.Execute(a => { a.mov(r10, cr3); a.mov(cr3, r10); a.hlt(); },
            GuestRun.With(P.HltExiting | P.Cr3LoadExiting), configure: v =>
            {
                v.Vmcs.Write(VmcsField.Cr3TargetCount, 1);
                v.Vmcs.Write(VmcsField.Cr3TargetValue0, Guests.LongModeGuest.Pml4Address);
            });
        Assert.Equal([ExitReason.Hlt], target.Exits.Select(e => e.Reason.Basic));
    }

    [Fact]
    public void MovFromCr3_ExitsWithCr3StoreExiting()
    {
        var exiting = GuestRun.Execute(a => { a.mov(rbx, cr3); a.hlt(); }, GuestRun.With(P.HltExiting | P.Cr3StoreExiting), onExit: GuestRun.CompleteUntilHlt);
        var q = new CrAccessQualification(exiting.Single(ExitReason.CrAccess).Qualification);
        Assert.Equal((3, CrAccessType.MovFromCr, 3), (q.ControlRegister, q.AccessType, q.GeneralRegister));

        var plain = GuestRun.Execute(a => { a.mov(rbx, cr3); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal(Guests.LongModeGuest.Pml4Address, plain.VCpu.Registers.Rbx);
    }

    [Fact]
    public void MovToCr0_ExitsWhenAHostOwnedBitDiffersFromTheShadow()
    {
        // CR0.TS (bit 3) is host-owned with shadow 0: setting it exits; changing an unowned bit (AM, 18) does not.
        void Configure(VCpu v)
        {
            v.Vmcs.Write(VmcsField.Cr0GuestHostMask, ControlRegisters.Cr0TS);
            v.Vmcs.Write(VmcsField.Cr0ReadShadow, 0);
        }
        var exiting = GuestRun.Execute(a => { a.mov(rax, cr0); a.or(rax, 8); a.mov(cr0, rax); a.hlt(); },
            GuestRun.With(P.HltExiting), configure: Configure, onExit: GuestRun.CompleteUntilHlt);
        var q = new CrAccessQualification(exiting.Single(ExitReason.CrAccess).Qualification);
        Assert.Equal((0, CrAccessType.MovToCr, 0), (q.ControlRegister, q.AccessType, q.GeneralRegister));

        var plain = GuestRun.Execute(a => { a.mov(rax, cr0); a.or(eax, 1 << 18); a.mov(cr0, rax); a.mov(rbx, cr0); a.hlt(); },
            GuestRun.With(P.HltExiting), configure: Configure);
        Assert.Equal([ExitReason.Hlt], plain.Exits.Select(e => e.Reason.Basic));
        Assert.NotEqual(0UL, plain.VCpu.Registers.Rbx & (1UL << 18));
    }

    [Fact]
    public void MovFromCr4_ReadsHostOwnedBitsFromTheShadow()
    {
        // LongModeGuest owns CR4.VMXE with a shadow of 0: the guest never sees VMXE although CR4 holds it.
        var run = GuestRun.Execute(a => { a.mov(rbx, cr4); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal(0UL, run.VCpu.Registers.Rbx & ControlRegisters.Cr4VMXE);
        Assert.NotEqual(0UL, run.VCpu.Registers.Rbx & ControlRegisters.Cr4PAE);
        Assert.NotEqual(0UL, run.VCpu.Vmcs.Read(VmcsField.GuestCr4) & ControlRegisters.Cr4VMXE);
    }

    [Fact]
    public void Clts_ExitsWhenTsIsHostOwnedAndSetInTheShadow()
    {
        var run = GuestRun.Execute(a => { a.clts(); a.hlt(); }, GuestRun.With(P.HltExiting), configure: v =>
        {
            v.Vmcs.Write(VmcsField.Cr0GuestHostMask, ControlRegisters.Cr0TS);
            v.Vmcs.Write(VmcsField.Cr0ReadShadow, v.Vmcs.Read(VmcsField.Cr0ReadShadow) | ControlRegisters.Cr0TS);
        }, onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal(CrAccessType.Clts, new CrAccessQualification(run.Single(ExitReason.CrAccess).Qualification).AccessType);
    }

    [Fact]
    public void Cr8Accesses_ExitWithCr8LoadAndStoreExiting()
    {
        var exiting = GuestRun.Execute(a => { a.mov(eax, 5); a.mov(cr8, rax); a.mov(rcx, cr8); a.hlt(); },
            GuestRun.With(P.HltExiting | P.Cr8LoadExiting | P.Cr8StoreExiting), onExit: GuestRun.CompleteUntilHlt);
        var q = exiting.Exits.Where(e => e.Reason.Basic == ExitReason.CrAccess).Select(e => new CrAccessQualification(e.Qualification)).ToList();
        Assert.Equal([(8, CrAccessType.MovToCr, 0), (8, CrAccessType.MovFromCr, 1)], q.Select(x => (x.ControlRegister, x.AccessType, x.GeneralRegister)));

        var plain = GuestRun.Execute(a => { a.mov(eax, 5); a.mov(cr8, rax); a.mov(rcx, cr8); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal(5UL, plain.VCpu.Registers.Rcx);
    }

    [Fact]
    public void MovDr_ExitsWithMovDrExiting()
    {
        var exiting = GuestRun.Execute(a => { a.mov(rdx, dr7); a.mov(dr0, rsi); a.hlt(); },
            GuestRun.With(P.HltExiting | P.MovDrExiting), onExit: GuestRun.CompleteUntilHlt);
        var q = exiting.Exits.Where(e => e.Reason.Basic == ExitReason.MovDr).Select(e => new MovDrQualification(e.Qualification)).ToList();
        Assert.Equal([(7, true, 2), (0, false, 6)], q.Select(x => (x.DebugRegister, x.IsMovFromDr, x.GeneralRegister)));

        var plain = GuestRun.Execute(a => { a.mov(rdx, dr7); a.hlt(); }, GuestRun.With(P.HltExiting));
        Assert.Equal(0x400UL, plain.VCpu.Registers.Rdx);
    }
}
