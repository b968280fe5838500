using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>
/// The TPR shadow (Intel SDM Vol. 3C, 30.1-30.3, exit 43 and the VTPR entry check of 27.2.1.1), PAUSE-loop exiting
/// (26.1.3, exit 40) and GETSEC (#UD without CR4.SMXE, else exit 11): each with a guest that triggers it and a twin run
/// with the control cleared that does not exit.
/// </summary>
public sealed class TprShadowPauseLoopGetsecTests
{
    private const ulong VirtualApicPage = 0x3_0000;
    private static readonly GuestPhysicalAddress Vtpr = new(VirtualApicPage + 0x80);

    private static Action<VCpu> TprShadow(bool enabled, uint threshold, uint initialVtpr) => vcpu =>
    {
        vcpu.Machine.Memory.Write(Vtpr, initialVtpr);
        vcpu.Vmcs.Write(VmcsField.VirtualApicAddress, VirtualApicPage);
        vcpu.Vmcs.Write(VmcsField.TprThreshold, threshold);
        ulong primary = vcpu.Vmcs.Read(VmcsField.PrimaryProcessorBasedVmExecutionControls);
        primary = enabled ? primary | (ulong)PrimaryProcessorControls.UseTprShadow : primary & ~(ulong)PrimaryProcessorControls.UseTprShadow;
        vcpu.Vmcs.Write(VmcsField.PrimaryProcessorBasedVmExecutionControls, primary);
    };

    [Fact]
    public void Cr8_WithTprShadow_ReadsAndWritesVtpr_AndTheTwinUsesTheTpr()
    {
        foreach (bool shadow in new[] { true, false })
        {
            uint vtpr = 0;
            VCpu? vcpu = null;
            var run = GuestRun.Execute(a =>
            {
                a.mov(eax, 9);
                a.mov(cr8, rax);
                a.mov(rbx, cr8);
                a.hlt();
            }, configure: v =>
            {
                vcpu = v;
                TprShadow(shadow, threshold: 0, initialVtpr: 0x20)(v);
            }, onExit: _ =>
            {
                vtpr = vcpu!.Machine.Memory.Read<uint>(Vtpr); // read before the run's VM is disposed
                return ExitAction.Stop;
            });
            var exit = Assert.Single(run.Exits);
            Assert.Equal(ExitReason.Hlt, exit.Reason.Basic);
            Assert.Equal(9UL, run.VCpu.Registers.Rbx);
            Assert.Equal(shadow ? 0UL : 9UL, run.VCpu.Processor.Cr8);
            Assert.Equal(shadow ? 0x90u : 0x20u, vtpr);
        }
    }

    [Fact]
    public void Cr8Write_StoresSourceBits3To0InVtprBits7To4()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(eax, 0xA); a.mov(cr8, rax); a.hlt(); });
        using (vm)
        {
            TprShadow(true, threshold: 0, initialVtpr: 0xFFFF_FF0F)(vcpu);
            var handler = new RecordingHandler();
            vcpu.Run(ref handler);
            Assert.Equal(ExitReason.Hlt, Assert.Single(handler.Exits).Reason.Basic);
            // Bits 3:0 and bytes 1-3 of VTPR are cleared (30.3).
            Assert.Equal(0xA0u, vm.Memory.Read<uint>(Vtpr));
        }
    }

    [Fact]
    public void Cr8WriteBelowThreshold_ExitsTrapLike_AndTheTwinDoesNot()
    {
        Label after = default;
        var program = (Assembler a) =>
        {
            after = a.CreateLabel();
            a.mov(eax, 3);
            a.mov(cr8, rax);
            a.Label(ref after);
            a.nop();
            a.hlt();
        };
        VCpu? vcpu = null;
        uint vtpr = 0;
        var run = GuestRun.Execute(program, configure: v => { vcpu = v; TprShadow(true, threshold: 4, initialVtpr: 0x40)(v); }, onExit: e =>
        {
            if (e.Reason.Basic != ExitReason.TprBelowThreshold) return ExitAction.Stop;
            vtpr = vcpu!.Machine.Memory.Read<uint>(Vtpr);
            // As a VMM does once it has delivered what the guest now accepts: lower the threshold to VTPR[7:4].
            vcpu!.Vmcs.Write(VmcsField.TprThreshold, 3);
            return ExitAction.Complete;
        });
        Assert.Equal(2, run.Exits.Count);
        var exit = run.Exits[0];
        Assert.Equal(ExitReason.TprBelowThreshold, exit.Reason.Basic);
        Assert.Equal(0UL, exit.Qualification);
        Assert.Equal(run.Assembled.GetLabelRIP(after), exit.Rip); // trap-like: after the MOV
        Assert.Equal(0x30u, vtpr);
        // Complete does not advance RIP for a trap-like exit: the guest goes on at the NOP, then HLT.
        Assert.Equal(ExitReason.Hlt, run.Exits[1].Reason.Basic);

        // Resuming with the threshold still above VTPR fails the VM-entry check of 27.2.1.1.
        var stale = GuestRun.Execute(program, configure: TprShadow(true, threshold: 4, initialVtpr: 0x40), onExit: _ => ExitAction.Complete);
        Assert.Equal(ExitReason.TprBelowThreshold, Assert.Single(stale.Exits).Reason.Basic);
        Assert.Equal(RunOutcome.EntryFailed, stale.Result.Outcome);

        var twin = GuestRun.Execute(program, configure: TprShadow(false, threshold: 4, initialVtpr: 0x40), onExit: _ => ExitAction.Stop);
        Assert.Equal(ExitReason.Hlt, Assert.Single(twin.Exits).Reason.Basic);

        // Equal is not below: no exit.
        var equal = GuestRun.Execute(program, configure: TprShadow(true, threshold: 3, initialVtpr: 0x40), onExit: _ => ExitAction.Stop);
        Assert.Equal(ExitReason.Hlt, Assert.Single(equal.Exits).Reason.Basic);
    }

    [Fact]
    public void ThresholdAboveVtpr_FailsEntryWithInvalidControls_AndTheTwinEnters()
    {
        var program = (Assembler a) => a.hlt();
        var run = GuestRun.Execute(program, configure: TprShadow(true, threshold: 5, initialVtpr: 0x40));
        Assert.Equal(RunOutcome.EntryFailed, run.Result.Outcome);
        Assert.Equal(VmInstructionError.EntryInvalidControlFields, run.Result.InstructionError);
        Assert.Equal("TprThresholdNotAboveVtpr", run.VCpu.LastEntryCheck.FailedCheckName);
        Assert.Empty(run.Exits);

        var twin = GuestRun.Execute(program, configure: TprShadow(false, threshold: 5, initialVtpr: 0x40));
        Assert.Equal(ExitReason.Hlt, Assert.Single(twin.Exits).Reason.Basic);
    }

    // ---- PAUSE-loop exiting ----

    private static Action<VCpu> PauseLoop(bool enabled, uint gap, uint window) => vcpu =>
    {
        ulong secondary = vcpu.Vmcs.Read(VmcsField.SecondaryProcessorBasedVmExecutionControls);
        secondary = enabled ? secondary | (ulong)SecondaryProcessorControls.PauseLoopExiting : secondary & ~(ulong)SecondaryProcessorControls.PauseLoopExiting;
        vcpu.Vmcs.Write(VmcsField.SecondaryProcessorBasedVmExecutionControls, secondary);
        vcpu.Vmcs.Write(VmcsField.PrimaryProcessorBasedVmExecutionControls,
            vcpu.Vmcs.Read(VmcsField.PrimaryProcessorBasedVmExecutionControls) | (ulong)PrimaryProcessorControls.ActivateSecondaryControls);
        vcpu.Vmcs.Write(VmcsField.PleGap, gap);
        vcpu.Vmcs.Write(VmcsField.PleWindow, window);
    };

    /// <summary>A spin loop of <paramref name="iterations"/> PAUSEs, then VMCALL (which exits at any CPL).</summary>
    private static void SpinLoop(Assembler a, int iterations, out Label pause)
    {
        pause = a.CreateLabel();
        a.mov(ecx, iterations);
        a.Label(ref pause);
        a.pause();
        a.dec(ecx);
        a.jnz(pause);
        a.vmcall();
        a.hlt();
    }

    private static ExitAction StopAtFirstExit(RecordedExit _) => ExitAction.Stop;

    [Fact]
    public void PauseLoopLongerThanTheWindow_Exits_AndTheTwinDoesNot()
    {
        Label pause = default;
        // Window 20 us of TSC; a million PAUSEs take far longer in the interpreter.
        var run = GuestRun.Execute(a => SpinLoop(a, 1_000_000, out pause), configure: PauseLoop(true, gap: 1_000_000_000, window: 20_000),
            onExit: StopAtFirstExit, maxInstructions: 10_000_000);
        var exit = Assert.Single(run.Exits);
        Assert.Equal(ExitReason.Pause, exit.Reason.Basic);
        Assert.Equal(2, exit.InstructionLength); // F3 90
        Assert.Equal(run.Assembled.GetLabelRIP(pause), exit.Rip);
        Assert.NotEqual(0UL, run.VCpu.Registers.Rcx);

        var twin = GuestRun.Execute(a => SpinLoop(a, 100_000, out _), configure: PauseLoop(false, gap: 1_000_000_000, window: 20_000),
            onExit: StopAtFirstExit, maxInstructions: 10_000_000);
        Assert.Equal(ExitReason.Vmcall, Assert.Single(twin.Exits).Reason.Basic);
    }

    [Fact]
    public void PausesFartherApartThanTheGap_NeverFormALoop()
    {
        // Gap 0: every PAUSE is more than PLE_Gap after the previous one, so each starts a new loop and none exits.
        var run = GuestRun.Execute(a => SpinLoop(a, 100_000, out _), configure: PauseLoop(true, gap: 0, window: 0),
            onExit: StopAtFirstExit, maxInstructions: 10_000_000);
        Assert.Equal(ExitReason.Vmcall, Assert.Single(run.Exits).Reason.Basic);
    }

    [Fact]
    public void PauseLoopAtCpl3_DoesNotExit()
    {
        var run = GuestRun.Execute(a => SpinLoop(a, 100_000, out _), options: new LongModeGuestOptions { Cpl = 3 },
            configure: PauseLoop(true, gap: 1_000_000_000, window: 0), onExit: StopAtFirstExit, maxInstructions: 10_000_000);
        Assert.Equal(ExitReason.Vmcall, Assert.Single(run.Exits).Reason.Basic);
    }

    // ---- GETSEC ----

    private static readonly VmxCapabilities s_smxCapabilities = VmxCapabilities.Default with
    {
        Cr4Fixed1 = VmxCapabilities.Default.Cr4Fixed1 | ControlRegisters.Cr4SMXE,
    };

    private static RecordedExit RunGetsec(bool smxe)
    {
        var a = new Assembler(64);
        a.xor(eax, eax); // GETSEC[CAPABILITIES]
        a.getsec();
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), TestGuest.CodeAddress);
        using var vm = new VirtualMachine(4 << 20, s_smxCapabilities);
        vm.Memory.Write(new GuestPhysicalAddress(TestGuest.CodeAddress), stream.ToArray());
        var vcpu = vm.CreateVCpu();
        LongModeGuest.Setup(vcpu, TestGuest.CodeAddress);
        if (smxe) vcpu.Vmcs.Write(VmcsField.GuestCr4, vcpu.Vmcs.Read(VmcsField.GuestCr4) | ControlRegisters.Cr4SMXE);
        var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
        vcpu.Run(ref handler);
        return Assert.Single(handler.Exits);
    }

    [Fact]
    public void Getsec_WithoutSmxe_RaisesUd_AndWithSmxe_Exits()
    {
        var ud = RunGetsec(smxe: false);
        Assert.Equal(ExitReason.ExceptionOrNmi, ud.Reason.Basic);
        Assert.Equal(ExceptionVector.InvalidOpcode, ud.Interruption.Vector);

        var exit = RunGetsec(smxe: true);
        Assert.Equal(ExitReason.Getsec, exit.Reason.Basic);
        Assert.Equal(2, exit.InstructionLength); // 0F 37
        Assert.Equal(TestGuest.CodeAddress + 2, exit.Rip);
    }
}
