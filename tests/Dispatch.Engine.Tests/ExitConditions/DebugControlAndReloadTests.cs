using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>
/// DR7 and IA32_DEBUGCTL move between the VMCS and the processor only under "load debug controls" (VM entry) and "save
/// debug controls" (VM exit); IA32_PAT and IA32_EFER likewise under their own controls. A register that entry loads but
/// exit does not save is written back from the VMCS on every entry, even one that finds the VMCS unchanged
/// (Intel SDM Vol. 3C, 27.3.2.1 and 28.3.1).
/// </summary>
public sealed class DebugControlAndReloadTests
{
    private const ulong VmcsDr7 = 0x402;   // G0, with the always-one bit 10
    private const ulong GuestDr7 = 0x401;  // L0
    private const ulong MsrBitmap = 0x20_2000; // all zero: no MSR access exits

    /// <summary>Reads DR7 into RBX, writes <see cref="GuestDr7"/>, exits by CPUID, reads DR7 into RCX, halts.</summary>
    private static void Dr7Program(Assembler a)
    {
        a.mov(rbx, dr7);
        a.mov(rax, GuestDr7);
        a.mov(dr7, rax);
        a.xor(eax, eax);
        a.cpuid();
        a.mov(rcx, dr7);
        a.hlt();
    }

    /// <summary>Completes CPUID without touching the VMCS (so the entry after it takes the unchanged-VMCS path).</summary>
    private struct QuietHandler : IExitHandler
    {
        public int CpuidExits;

        public ExitAction Dispatch(ref ExitContext context)
        {
            if (context.RawExitReason != (uint)ExitReason.Cpuid) return ExitAction.Stop;
            CpuidExits++;
            return ExitAction.Complete;
        }
    }

    private static VCpu Run(Action<Assembler> program, VmEntryControls entrySet, VmExitControls exitSet, Action<VCpu>? configure = null)
    {
        var (vm, vcpu) = TestGuest.Create(program);
        var v = vcpu.Vmcs;
        v.Write(VmcsField.GuestDr7, VmcsDr7);
        v.Write(VmcsField.VmEntryControls, v.Read32(VmcsField.VmEntryControls) | (uint)entrySet);
        v.Write(VmcsField.PrimaryVmExitControls, v.Read32(VmcsField.PrimaryVmExitControls) | (uint)exitSet);
        configure?.Invoke(vcpu);
        var handler = new QuietHandler();
        var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 10_000, Timeout = TimeSpan.FromSeconds(20) });
        vm.Dispose();
        Assert.True(result.Outcome == RunOutcome.Stopped, $"{result} {vcpu.LastEntryCheck}");
        Assert.Equal(1, handler.CpuidExits);
        return vcpu;
    }

    [Fact]
    public void Without_the_debug_controls_DR7_is_neither_loaded_nor_saved()
    {
        var vcpu = Run(Dr7Program, 0, 0);
        Assert.Equal(0x400UL, vcpu.Registers.Rbx);       // the processor's own DR7 (its value after INIT), not the field
        Assert.Equal(GuestDr7, vcpu.Registers.Rcx);      // kept across the exit and the entry
        Assert.Equal(VmcsDr7, vcpu.Vmcs.Read(VmcsField.GuestDr7)); // never saved
    }

    [Fact]
    public void Loading_and_saving_DR7_carries_the_guests_value_through_the_exit()
    {
        var vcpu = Run(Dr7Program, VmEntryControls.LoadDebugControls, VmExitControls.SaveDebugControls);
        Assert.Equal(VmcsDr7, vcpu.Registers.Rbx);
        Assert.Equal(GuestDr7, vcpu.Registers.Rcx);
        Assert.Equal(GuestDr7, vcpu.Vmcs.Read(VmcsField.GuestDr7));
    }

    [Fact]
    public void Loading_DR7_without_saving_it_reverts_the_guests_write_on_every_entry()
    {
        var vcpu = Run(Dr7Program, VmEntryControls.LoadDebugControls, 0);
        Assert.Equal(VmcsDr7, vcpu.Registers.Rbx);
        Assert.Equal(VmcsDr7, vcpu.Registers.Rcx);       // the entry after CPUID loaded the field again
        Assert.Equal(VmcsDr7, vcpu.Vmcs.Read(VmcsField.GuestDr7));
    }

    [Fact]
    public void Loading_PAT_without_saving_it_reverts_the_guests_WRMSR_on_the_next_entry()
    {
        const ulong fieldPat = 0x0007_0406_0007_0406, guestPat = 0x0006_0606_0606_0606;
        var vcpu = Run(a =>
        {
            a.mov(ecx, 0x277); // IA32_PAT
            a.mov(eax, unchecked((uint)guestPat));
            a.mov(edx, (uint)(guestPat >> 32));
            a.wrmsr();
            a.rdmsr();
            a.mov(rbx, rax);   // low half as written
            a.xor(eax, eax);
            a.cpuid();
            a.mov(ecx, 0x277);
            a.rdmsr();
            a.mov(rsi, rax);   // low half after the entry
            a.hlt();
        }, VmEntryControls.LoadIa32Pat, 0, v =>
        {
            v.Vmcs.Write(VmcsField.GuestIa32Pat, fieldPat);
            v.Vmcs.Write(VmcsField.PrimaryProcessorBasedVmExecutionControls,
                v.Vmcs.Read32(VmcsField.PrimaryProcessorBasedVmExecutionControls) | (uint)PrimaryProcessorControls.UseMsrBitmaps);
            v.Vmcs.Write(VmcsField.MsrBitmapsAddress, MsrBitmap);
        });
        Assert.Equal(guestPat & 0xFFFF_FFFF, vcpu.Registers.Rbx & 0xFFFF_FFFF);
        Assert.Equal(fieldPat & 0xFFFF_FFFF, vcpu.Registers.Rsi & 0xFFFF_FFFF);
        Assert.Equal(fieldPat, vcpu.ReadMsr(0x277));
    }
}
