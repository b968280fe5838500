using Dispatch.Memory;
using Dispatch.Vmx;
using static Iced.Intel.AssemblerRegisters;
using P = Dispatch.Vmx.PrimaryProcessorControls;

namespace Dispatch.Engine.Tests.ExitConditions;

/// <summary>I/O by unconditional exiting or the I/O bitmaps, RDMSR/WRMSR by the MSR bitmaps (25.6.4, 25.6.9, 26.1.3).</summary>
public sealed class IoAndMsrExitTests
{
    private const ulong BitmapA = 0x20_0000, BitmapB = 0x20_1000, MsrBitmap = 0x20_2000;

    private static void SetBit(VCpu v, ulong bitmap, int bit)
    {
        var address = new GuestPhysicalAddress(bitmap + (ulong)(bit >> 3));
        v.Machine.Memory.Write(address, (byte)(v.Machine.Memory.Read<byte>(address) | (1 << (bit & 7))));
    }

    private static void UseBitmaps(VCpu v)
    {
        v.Vmcs.Write(VmcsField.IoBitmapAAddress, BitmapA);
        v.Vmcs.Write(VmcsField.IoBitmapBAddress, BitmapB);
        v.Vmcs.Write(VmcsField.MsrBitmapsAddress, MsrBitmap);
    }

    [Fact]
    public void Out_WithUnconditionalIoExiting_ReportsTheQualification()
    {
        var run = GuestRun.Execute(a => { a.mov(al, 0x41); a.@out(0x80, al); a.mov(dx, 0x3F8); a.mov(ax, 0x1234); a.@out(dx, ax); a.hlt(); },
            GuestRun.With(P.HltExiting | P.UnconditionalIoExiting), onExit: GuestRun.CompleteUntilHlt);
        var io = run.Exits.Where(e => e.Reason.Basic == ExitReason.IoInstruction).Select(e => new IoQualification(e.Qualification)).ToList();
        Assert.Equal(2, io.Count);
        Assert.Equal((0x80, 1, true, false), ((int)io[0].Port, io[0].Size, io[0].IsImmediateOperand, io[0].IsIn));
        Assert.Equal((0x3F8, 2, false, false), ((int)io[1].Port, io[1].Size, io[1].IsImmediateOperand, io[1].IsIn));
    }

    [Fact]
    public void IoBitmaps_ExitOnlyForPortsWithTheirBitSet_InBitmapAOrB()
    {
        var run = GuestRun.Execute(a =>
        {
            a.@in(al, 0x60);        // bit clear: no exit, reads all ones
            a.mov(bl, al);
            a.mov(dx, 0x64);
            a.@in(al, dx);          // bit set in A: exits
            a.mov(dx, 0x9000);
            a.@out(dx, al);         // bit set in B: exits
            a.mov(dx, 0xFFFF);
            a.@in(ax, dx);          // wraps past 0xFFFF: always exits
            a.hlt();
        }, GuestRun.With(P.HltExiting | P.UseIoBitmaps | P.UnconditionalIoExiting), configure: v =>
        {
            UseBitmaps(v);
            SetBit(v, BitmapA, 0x64);
            SetBit(v, BitmapB, 0x9000 - 0x8000);
        }, onExit: GuestRun.CompleteUntilHlt);
        var ports = run.Exits.Where(e => e.Reason.Basic == ExitReason.IoInstruction).Select(e => (int)new IoQualification(e.Qualification).Port);
        Assert.Equal([0x64, 0x9000, 0xFFFF], ports);
        Assert.Equal(0xFFUL, run.VCpu.Registers.Rbx & 0xFF);
    }

    [Fact]
    public void StringIo_ReportsLinearAddressAndRep()
    {
        var run = GuestRun.Execute(a => { a.mov(rsi, 0x3000); a.mov(ecx, 4); a.mov(dx, 0x3F8); a.rep.outsb(); a.hlt(); },
            GuestRun.With(P.HltExiting | P.UnconditionalIoExiting), onExit: e => e.Reason.Basic == ExitReason.Hlt ? ExitAction.Stop : ExitAction.Stop);
        var e = run.Single(ExitReason.IoInstruction);
        var q = new IoQualification(e.Qualification);
        Assert.True(q.IsString && q.IsRep && q.IsOut);
        Assert.Equal(0x3000UL, e.GuestLinearAddress);
        Assert.Equal(3u, (e.InstructionInformation >> 15) & 7); // DS
    }

    [Fact]
    public void Rdmsr_WithoutMsrBitmaps_AlwaysExits()
    {
        var run = GuestRun.Execute(a => { a.mov(ecx, Msr.Ia32Efer); a.rdmsr(); a.hlt(); }, GuestRun.With(P.HltExiting), onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal(2, run.Single(ExitReason.Rdmsr).InstructionLength);
    }

    [Fact]
    public void MsrBitmaps_DecideReadsAndWritesSeparately_AndHighRangeToo()
    {
        var run = GuestRun.Execute(a =>
        {
            a.mov(ecx, Msr.Ia32Efer);
            a.rdmsr();               // read-high bit clear: executes
            a.mov(r8, rax);
            a.wrmsr();               // write-high bit set: exits
            a.mov(ecx, Msr.Ia32Pat);
            a.rdmsr();               // read-low bit set: exits
            a.mov(ecx, 0x4000_0000);
            a.rdmsr();               // outside both ranges: always exits
            a.hlt();
        }, GuestRun.With(P.HltExiting | P.UseMsrBitmaps), configure: v =>
        {
            UseBitmaps(v);
            SetBit(v, MsrBitmap + 3072, (int)(Msr.Ia32Efer & 0x1FFF));
            SetBit(v, MsrBitmap, (int)Msr.Ia32Pat);
        }, onExit: GuestRun.CompleteUntilHlt);
        Assert.Equal([ExitReason.Wrmsr, ExitReason.Rdmsr, ExitReason.Rdmsr, ExitReason.Hlt], run.Exits.Select(e => e.Reason.Basic));
        Assert.NotEqual(0UL, run.VCpu.Registers.R8 & ControlRegisters.EferLMA);
    }
}
