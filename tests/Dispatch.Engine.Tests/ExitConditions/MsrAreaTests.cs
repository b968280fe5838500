using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using P = Dispatch.Vmx.PrimaryProcessorControls;

namespace Dispatch.Engine.Tests.ExitConditions;

/// <summary>
/// The VMX MSR areas (Intel SDM Vol. 3C, 27.4 VM-entry MSR loading, 28.4 VM-exit MSR storing, 28.6 VM-exit MSR loading):
/// each rule with a VMCS that triggers it and a twin that does not.
/// </summary>
public sealed class MsrAreaTests
{
    private const ulong MsrBitmap = 0x20_0000, EntryArea = 0x20_1000, StoreArea = 0x20_2000, ExitLoadArea = 0x20_3000;
    private const ulong KernelGsValue = 0xFFFF_8000_1234_5000, LstarValue = 0xFFFF_FFFF_8100_0000;

    private static void WriteArea(VCpu v, ulong area, params (ulong Header, ulong Data)[] entries)
    {
        for (int i = 0; i < entries.Length; i++)
        {
            v.Machine.Memory.WriteUInt64(new GuestPhysicalAddress(area + (ulong)i * 16), entries[i].Header);
            v.Machine.Memory.WriteUInt64(new GuestPhysicalAddress(area + (ulong)i * 16 + 8), entries[i].Data);
        }
    }

    /// <summary>RDMSR and WRMSR run in the guest without exiting: MSR bitmaps on, all bits clear.</summary>
    private static LongModeGuestOptions GuestOptions => GuestRun.With(P.HltExiting | P.UseMsrBitmaps);

    private static void UseMsrBitmap(VCpu v) => v.Vmcs.Write(VmcsField.MsrBitmapsAddress, MsrBitmap);

    private static void EntryLoads(VCpu v, params (ulong Header, ulong Data)[] entries)
    {
        WriteArea(v, EntryArea, entries);
        v.Vmcs.Write(VmcsField.VmEntryMsrLoadAddress, EntryArea);
        v.Vmcs.Write(VmcsField.VmEntryMsrLoadCount, (ulong)entries.Length);
    }

    /// <summary>Reads IA32_KERNEL_GS_BASE into R8 and IA32_LSTAR into R9 with RDMSR, then halts.</summary>
    private static void ReadKernelGsBaseAndLstar(Assembler a)
    {
        a.mov(ecx, Msr.Ia32KernelGsBase);
        a.rdmsr();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(r8, rax);
        a.mov(ecx, Msr.Ia32Lstar);
        a.rdmsr();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(r9, rax);
        a.hlt();
    }

    [Fact]
    public void EntryLoadArea_LoadsMsrsTheGuestThenReadsWithRdmsr()
    {
        var run = GuestRun.Execute(ReadKernelGsBaseAndLstar, GuestOptions, configure: v =>
        {
            UseMsrBitmap(v);
            EntryLoads(v, (Msr.Ia32KernelGsBase, KernelGsValue), (Msr.Ia32Lstar, LstarValue));
        });
        Assert.Equal(ExitReason.Hlt, run.Single(ExitReason.Hlt).Reason.Basic);
        Assert.Equal(KernelGsValue, run.VCpu.Registers.R8);
        Assert.Equal(LstarValue, run.VCpu.Registers.R9);
        Assert.True(run.VCpu.IsLaunched);
    }

    [Fact]
    public void WithoutEntryLoadArea_TheGuestReadsTheMsrsUnchanged()
    {
        var run = GuestRun.Execute(ReadKernelGsBaseAndLstar, GuestOptions, configure: v =>
        {
            UseMsrBitmap(v);
            // The area holds the same entries, but the count is zero: it is never read.
            WriteArea(v, EntryArea, (Msr.Ia32KernelGsBase, KernelGsValue), (Msr.Ia32Lstar, LstarValue));
            v.Vmcs.Write(VmcsField.VmEntryMsrLoadAddress, EntryArea);
        });
        Assert.Equal(ExitReason.Hlt, run.Single(ExitReason.Hlt).Reason.Basic);
        Assert.Equal(0UL, run.VCpu.Registers.R8);
        Assert.Equal(0UL, run.VCpu.Registers.R9);
    }

    public static TheoryData<string, ulong, ulong> BadEntryLoadEntries => new()
    {
        { "reserved bits 63:32", (1UL << 32) | Msr.Ia32KernelGsBase, KernelGsValue },
        { "IA32_FS_BASE", Msr.Ia32FsBase, 0x1000 },
        { "IA32_GS_BASE", Msr.Ia32GsBase, 0x1000 },
        { "x2APIC register (TPR)", 0x808, 0 },
        { "IA32_SMM_MONITOR_CTL", Msr.Ia32SmmMonitorCtl, 0 },
        { "MSR the model does not implement", 0x4000_0000, 0 },
        { "value WRMSR would #GP on (non-canonical LSTAR)", Msr.Ia32Lstar, 0x0000_8000_0000_0000 },
        { "value WRMSR would #GP on (reserved EFER bit)", Msr.Ia32Efer, 1UL << 20 },
    };

    [Theory]
    [MemberData(nameof(BadEntryLoadEntries))]
    public void BadEntryLoadEntry_FailsEntryWithReason34AndItsOneBasedNumber(string rule, ulong header, ulong data)
    {
        var run = GuestRun.Execute(ReadKernelGsBaseAndLstar, GuestOptions, configure: v =>
        {
            UseMsrBitmap(v);
            EntryLoads(v, (Msr.Ia32Star, 0x0023_0010_0000_0000), (Msr.Ia32KernelGsBase, KernelGsValue), (header, data));
        }, onExit: _ => ExitAction.Stop);
        var exit = Assert.Single(run.Exits);
        Assert.True(exit.Reason.IsEntryFailure, rule);
        Assert.Equal(ExitReason.EntryFailureMsrLoading, exit.Reason.Basic);
        Assert.Equal(0x8000_0022UL, run.VCpu.Vmcs.Read(VmcsField.VmExitReason));
        Assert.Equal(3UL, exit.Qualification);
        Assert.False(run.VCpu.IsLaunched); // the failed VMLAUNCH leaves the launch state clear (31.3)
    }

    [Fact]
    public void GoodTwinOfTheBadEntries_EntersAndRunsToHlt()
    {
        var run = GuestRun.Execute(ReadKernelGsBaseAndLstar, GuestOptions, configure: v =>
        {
            UseMsrBitmap(v);
            EntryLoads(v, (Msr.Ia32Star, 0x0023_0010_0000_0000), (Msr.Ia32KernelGsBase, KernelGsValue), (Msr.Ia32Lstar, LstarValue));
        }, onExit: GuestRun.CompleteUntilHlt);
        var exit = Assert.Single(run.Exits);
        Assert.False(exit.Reason.IsEntryFailure);
        Assert.Equal(ExitReason.Hlt, exit.Reason.Basic);
        Assert.Equal(LstarValue, run.VCpu.Registers.R9);
    }

    [Fact]
    public void EntryAreaOutsideRam_ReadsAsAllOnesAndFailsItsFirstEntry()
    {
        var run = GuestRun.Execute(ReadKernelGsBaseAndLstar, GuestOptions, configure: v =>
        {
            UseMsrBitmap(v);
            v.Vmcs.Write(VmcsField.VmEntryMsrLoadAddress, 0x1_0000_0000); // 4 GiB: within the address width, not RAM
            v.Vmcs.Write(VmcsField.VmEntryMsrLoadCount, 1);
        }, onExit: _ => ExitAction.Stop);
        var exit = Assert.Single(run.Exits);
        Assert.Equal(ExitReason.EntryFailureMsrLoading, exit.Reason.Basic);
        Assert.Equal(1UL, exit.Qualification);
    }

    /// <summary>The guest sets IA32_LSTAR and IA32_KERNEL_GS_BASE with WRMSR (not exiting), then halts.</summary>
    private static void WriteLstarAndKernelGsBase(Assembler a)
    {
        a.mov(ecx, Msr.Ia32Lstar);
        a.mov(eax, unchecked((uint)LstarValue));
        a.mov(edx, (uint)(LstarValue >> 32));
        a.wrmsr();
        a.mov(ecx, Msr.Ia32KernelGsBase);
        a.mov(eax, unchecked((uint)KernelGsValue));
        a.mov(edx, (uint)(KernelGsValue >> 32));
        a.wrmsr();
        a.hlt();
    }

    private const ulong Sentinel = 0x5A5A_5A5A_5A5A_5A5A;

    [Fact]
    public void ExitStoreArea_ReceivesTheGuestsMsrValuesAfterTheExit()
    {
        var (vm, vcpu) = TestGuest.Create(WriteLstarAndKernelGsBase, GuestOptions);
        using (vm)
        {
            UseMsrBitmap(vcpu);
            WriteArea(vcpu, StoreArea, (Msr.Ia32Lstar, Sentinel), (Msr.Ia32KernelGsBase, Sentinel), (Msr.Ia32Star, Sentinel));
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreAddress, StoreArea);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreCount, 3);
            var handler = new RecordingHandler();
            Assert.Equal(RunOutcome.Stopped, vcpu.Run(ref handler).Outcome);
            Assert.Equal(ExitReason.Hlt, Assert.Single(handler.Exits).Reason.Basic);
            Assert.Equal(LstarValue, vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea + 8)));
            Assert.Equal(KernelGsValue, vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea + 24)));
            Assert.Equal(vcpu.ReadMsr(Msr.Ia32Star), vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea + 40))); // as set up
            Assert.NotEqual(Sentinel, vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea + 40)));
            Assert.Equal((ulong)Msr.Ia32Lstar, vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea))); // index untouched
        }
    }

    [Fact]
    public void WithoutExitStoreCount_TheAreaIsLeftAlone()
    {
        var (vm, vcpu) = TestGuest.Create(WriteLstarAndKernelGsBase, GuestOptions);
        using (vm)
        {
            UseMsrBitmap(vcpu);
            WriteArea(vcpu, StoreArea, (Msr.Ia32Lstar, Sentinel));
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreAddress, StoreArea);
            var handler = new RecordingHandler();
            Assert.Equal(RunOutcome.Stopped, vcpu.Run(ref handler).Outcome);
            Assert.Equal(Sentinel, vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea + 8)));
            Assert.Equal(LstarValue, vcpu.ReadMsr(Msr.Ia32Lstar));
        }
    }

    [Theory]
    [InlineData((ulong)0x4000_0000)]         // not implemented by the model: cannot be read
    [InlineData((ulong)0x808)]               // x2APIC register
    [InlineData((1UL << 32) | Msr.Ia32Star)] // reserved bits
    public void BadExitStoreEntry_IsAVmxAbort1(ulong header)
    {
        var (vm, vcpu) = TestGuest.Create(WriteLstarAndKernelGsBase, GuestOptions);
        using (vm)
        {
            UseMsrBitmap(vcpu);
            WriteArea(vcpu, StoreArea, (Msr.Ia32Lstar, Sentinel), (header, Sentinel));
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreAddress, StoreArea);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreCount, 2);
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler);
            Assert.Equal(RunOutcome.VmxAbort, result.Outcome);
            var abort = Assert.IsType<VmxAbortException>(result.Exception);
            Assert.Equal(VmxAbortIndicator.SavingGuestMsrsFailed, abort.Indicator);
            Assert.Equal(2u, abort.EntryNumber);
            Assert.Equal(ExitReason.Hlt, result.LastExit.Basic);
            Assert.Empty(handler.Exits); // the exit never reached the handler
        }
    }

    [Theory]
    [InlineData(Msr.Ia32FsBase, 0x1000UL, false)]
    [InlineData(Msr.Ia32Lstar, 0x0000_8000_0000_0000UL, false)] // non-canonical: WRMSR would #GP
    [InlineData(0x4000_0000u, 0UL, false)]
    [InlineData(Msr.Ia32Lstar, LstarValue, true)]
    [InlineData(Msr.Ia32KernelGsBase, 0UL, true)]
    public void ExitLoadArea_IsValidatedAndABadEntryIsAVmxAbort4(uint msr, ulong value, bool valid)
    {
        var (vm, vcpu) = TestGuest.Create(WriteLstarAndKernelGsBase, GuestOptions);
        using (vm)
        {
            UseMsrBitmap(vcpu);
            WriteArea(vcpu, ExitLoadArea, (Msr.Ia32Star, 0), (msr, value));
            vcpu.Vmcs.Write(VmcsField.VmExitMsrLoadAddress, ExitLoadArea);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrLoadCount, 2);
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler);
            if (valid)
            {
                Assert.Equal(RunOutcome.Stopped, result.Outcome);
                // Host MSRs are not the guest's: the guest's own values are untouched by the exit load.
                Assert.Equal(LstarValue, vcpu.ReadMsr(Msr.Ia32Lstar));
                return;
            }
            Assert.Equal(RunOutcome.VmxAbort, result.Outcome);
            var abort = Assert.IsType<VmxAbortException>(result.Exception);
            Assert.Equal(VmxAbortIndicator.LoadingHostMsrsFailed, abort.Indicator);
            Assert.Equal(2u, abort.EntryNumber);
        }
    }

    [Fact]
    public void EntryFailureByMsrLoading_StillProcessesTheExitLoadArea()
    {
        var (vm, vcpu) = TestGuest.Create(ReadKernelGsBaseAndLstar, GuestOptions);
        using (vm)
        {
            UseMsrBitmap(vcpu);
            EntryLoads(vcpu, (Msr.Ia32FsBase, 0));
            WriteArea(vcpu, ExitLoadArea, (Msr.Ia32GsBase, 0));
            vcpu.Vmcs.Write(VmcsField.VmExitMsrLoadAddress, ExitLoadArea);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrLoadCount, 1);
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler);
            Assert.Equal(RunOutcome.VmxAbort, result.Outcome);
            Assert.Equal(VmxAbortIndicator.LoadingHostMsrsFailed, Assert.IsType<VmxAbortException>(result.Exception).Indicator);
            Assert.True(result.LastExit.IsEntryFailure);
            Assert.Equal(ExitReason.EntryFailureMsrLoading, result.LastExit.Basic);
        }
    }

    private struct CpuidCounter : IExitHandler
    {
        public int Cpuids;

        public ExitAction Dispatch(ref ExitContext context)
        {
            switch (context.ExitReason.Basic)
            {
                case ExitReason.Cpuid:
                    Cpuids++;
                    return ExitAction.Complete;
                case ExitReason.Hlt:
                    return ExitAction.Stop;
                default:
                    return ExitAction.Unhandled;
            }
        }
    }

    [Fact]
    public void ExitsWithMsrAreas_AllocateNothing()
    {
        const int iterations = 1_000;
        var (vm, vcpu) = TestGuest.Create(a => GuestPrograms.CpuidLoop(a, iterations), GuestOptions);
        using (vm)
        {
            UseMsrBitmap(vcpu);
            WriteArea(vcpu, StoreArea, (Msr.Ia32Lstar, 0), (Msr.Ia32Efer, 0));
            WriteArea(vcpu, ExitLoadArea, (Msr.Ia32Lstar, LstarValue));
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreAddress, StoreArea);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrStoreCount, 2);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrLoadAddress, ExitLoadArea);
            vcpu.Vmcs.Write(VmcsField.VmExitMsrLoadCount, 1);
            var handler = new CpuidCounter();
            // Warm-up runs (block decoding, JIT tiering); the steady state is what must not allocate.
            for (int warmup = 0; warmup < 3; warmup++)
            {
                handler = new CpuidCounter();
                vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
                Assert.Equal(RunOutcome.Stopped, vcpu.Run(ref handler).Outcome);
            }
            handler = new CpuidCounter();
            vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var result = vcpu.Run(ref handler);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Equal(iterations, handler.Cpuids);
            Assert.NotEqual(0UL, vm.Memory.ReadUInt64(new GuestPhysicalAddress(StoreArea + 24)) & ControlRegisters.EferLMA);
            Assert.Equal(0, allocated);
        }
    }
}
