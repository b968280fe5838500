using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>
/// After a VM exit the processor keeps the guest state and the VMCS asks for it when a guest-state field is first touched
/// (<see cref="Vmcs.DeferGuestStateSave"/>). A handler that never touches the guest-state area must see the same
/// machine as with an eager save: the RIP advance of <see cref="ExitAction.Complete"/>, control-field writes that make
/// the next entry check and reload, guest-state writes, and the VMCS as read after the run.
/// </summary>
public sealed class DeferredGuestStateSaveTests
{
    /// <summary>Answers CPUID without reading the guest-state area; stops at HLT.</summary>
    private struct QuietHandler : IExitHandler
    {
        public int CpuidExits, DeferredAtDispatch;
        public Func<Vmcs, ExitAction>? OnCpuid;

        public ExitAction Dispatch(ref ExitContext context)
        {
            if (context.RawExitReason != (uint)ExitReason.Cpuid) return ExitAction.Stop;
            CpuidExits++;
            if (context.Vmcs.IsGuestStateDeferred) DeferredAtDispatch++;
            return OnCpuid?.Invoke(context.Vmcs) ?? ExitAction.Complete;
        }
    }

    private static RunResult Run(Action<Assembler> program, ref QuietHandler handler, out VCpu vcpu, out AssemblerResult assembled)
    {
        var (vm, v) = TestGuest.Create(program, out assembled);
        vcpu = v;
        var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1_000_000, Timeout = TimeSpan.FromSeconds(20) });
        vm.Dispose();
        return result;
    }

    [Fact]
    public void Untouched_exits_save_nothing_and_the_vmcs_reads_as_after_an_eager_save()
    {
        var hltLabel = default(Label);
        ulong initialRsp = 0;
        var handler = new QuietHandler();
        var result = Run(a =>
        {
            hltLabel = a.CreateLabel();
            a.sub(rsp, 0x40);
            GuestPrograms.CpuidLoop(a, 5, halt: false);
            a.stc();
            a.Label(ref hltLabel);
            a.hlt();
        }, ref handler, out var vcpu, out var assembled);

        Assert.Equal(RunOutcome.Stopped, result.Outcome);
        Assert.Equal(5, handler.CpuidExits);
        Assert.Equal(5, handler.DeferredAtDispatch);
        initialRsp = vcpu.Registers.Rsp + 0x40;
        Assert.True(vcpu.Vmcs.IsGuestStateDeferred);
        long version = vcpu.Vmcs.Version;

        // HLT exits fault-like: the saved RIP is the HLT itself; RSP and the carry set by STC are the processor's.
        Assert.Equal(assembled.GetLabelRIP(hltLabel), vcpu.Vmcs.Read(VmcsField.GuestRip));
        Assert.False(vcpu.Vmcs.IsGuestStateDeferred);
        Assert.Equal(initialRsp - 0x40, vcpu.Vmcs.Read(VmcsField.GuestRsp));
        Assert.Equal(1UL, vcpu.Vmcs.Read(VmcsField.GuestRflags) & 1);
        Assert.Equal(version, vcpu.Vmcs.Version);
    }

    [Fact]
    public void A_control_write_without_a_guest_state_read_reloads_the_processors_own_state()
    {
        // Every exit writes a read shadow (a control field) and reads no guest state: each entry checks and reloads the
        // guest state from the VMCS, which must therefore hold the state the guest reached, not the state it started with
        // (a stale RIP would restart the loop and count the exits wrong).
        int shadowWrites = 0;
        var handler = new QuietHandler { OnCpuid = vmcs => { vmcs.Write(VmcsField.Cr0ReadShadow, (ulong)++shadowWrites); return ExitAction.Complete; } };
        var result = Run(a =>
        {
            var loop = a.CreateLabel();
            a.mov(r8d, 50);
            a.xor(ebx, ebx);
            a.Label(ref loop);
            a.push(rbx);
            a.xor(eax, eax);
            a.cpuid();
            a.pop(rbx);
            a.inc(ebx);
            a.dec(r8d);
            a.jnz(loop);
            a.hlt();
        }, ref handler, out var vcpu, out _);

        Assert.Equal(RunOutcome.Stopped, result.Outcome);
        Assert.Equal(50, handler.CpuidExits);
        Assert.Equal(50UL, vcpu.Registers.Rbx);
        Assert.Equal(50UL, vcpu.Vmcs.Read(VmcsField.Cr0ReadShadow));
        Assert.Equal(0UL, vcpu.Registers.R8);
    }

    [Fact]
    public void A_guest_rip_write_without_a_read_is_where_the_guest_resumes()
    {
        var target = default(Label);
        var handler = new QuietHandler();
        ulong targetRip = 0;
        handler.OnCpuid = vmcs =>
        {
            vmcs.Write(VmcsField.GuestRip, targetRip);
            return ExitAction.Resume;
        };
        // The target is known only after assembly: assemble once to learn it (the code does not depend on it).
        Action<Assembler> program = a =>
        {
            target = a.CreateLabel();
            a.xor(ebx, ebx);
            a.cpuid();
            a.mov(ebx, 1);
            a.Label(ref target);
            a.hlt();
        };
        var (probeVm, _) = TestGuest.Create(program, out var probe);
        probeVm.Dispose();
        targetRip = probe.GetLabelRIP(target);

        var result = Run(program, ref handler, out var vcpu, out _);
        Assert.Equal(RunOutcome.Stopped, result.Outcome);
        Assert.Equal(1, handler.CpuidExits);
        Assert.Equal(0UL, vcpu.Registers.Rbx);
        Assert.Equal(targetRip, vcpu.Vmcs.Read(VmcsField.GuestRip));
    }
}
