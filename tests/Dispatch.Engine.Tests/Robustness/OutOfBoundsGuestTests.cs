using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// Guest-controlled addresses that point outside guest RAM (paging structures, EPT, descriptor tables, string
/// instructions running off the end of RAM) end the run architecturally and touch nothing outside guest memory.
/// </summary>
public sealed class OutOfBoundsGuestTests
{
    private const ulong Ram = 4 << 20;

    private static ExitAction StopOnAnything(RecordedExit e) => ExitAction.Stop;

    private static void AssertArchitecturalStop(GuestRun run)
    {
        Assert.True(run.Result.Outcome is RunOutcome.Stopped or RunOutcome.EntryFailed, run.Result.ToString());
        Assert.Null(run.Result.Exception);
    }

    private static void AssertEntryRefused(GuestRun run)
    {
        // VMfailValid, or the VM-entry failure exit (reason 33/34 with bit 31) delivered to the handler.
        bool refused = run.Result.Outcome == RunOutcome.EntryFailed || run.Exits.Count == 1 && run.Exits[0].Reason.IsEntryFailure;
        Assert.True(refused, $"{run.Result}; exits: {string.Join(", ", run.Exits.Select(e => e.Reason))}");
    }

    private static RecordedExit SingleException(GuestRun run, byte vector)
    {
        AssertArchitecturalStop(run);
        var exit = Assert.Single(run.Exits);
        Assert.Equal(ExitReason.ExceptionOrNmi, exit.Reason.Basic);
        Assert.Equal(vector, exit.Interruption.Vector);
        return exit;
    }

    [Fact]
    public void CR3_outside_RAM_faults_on_the_first_fetch()
    {
        var run = GuestRun.Execute(a => { a.nop(); a.hlt(); },
            configure: v => v.Vmcs.Write(VmcsField.GuestCr3, 0x100_0000_0000), onExit: StopOnAnything);
        var exit = SingleException(run, ExceptionVector.PageFault);
        Assert.Equal(TestGuest.CodeAddress, exit.Rip);
        Assert.NotEqual(0u, exit.InterruptionErrorCode & 8); // RSVD: the all-ones entry a missing table reads as
    }

    [Theory]
    [InlineData(0xFFFF_FFFF_FFFF_F000UL)]
    [InlineData(0x8000_0000_0000_0000UL)]
    [InlineData(1UL << 46)]
    public void CR3_beyond_MAXPHYADDR_is_refused_at_entry(ulong cr3)
    {
        var run = GuestRun.Execute(a => a.hlt(), configure: v => v.Vmcs.Write(VmcsField.GuestCr3, cr3), onExit: StopOnAnything);
        AssertEntryRefused(run);
    }

    [Theory]
    [InlineData(51)]
    [InlineData(46)]
    [InlineData(7)] // PS in a PML4 entry is reserved
    public void Reserved_bits_in_a_PML4_entry_raise_a_reserved_page_fault(int bit)
    {
        var run = GuestRun.Execute(a => a.hlt(), onExit: StopOnAnything, configure: v =>
        {
            var pml4e = new GuestPhysicalAddress(LongModeGuest.Pml4Address);
            v.Machine.Memory.WriteUInt64(pml4e, v.Machine.Memory.ReadUInt64(pml4e) | (1UL << bit));
        });
        var exit = SingleException(run, ExceptionVector.PageFault);
        Assert.Equal(0x9u, exit.InterruptionErrorCode & 0x9); // present and RSVD
    }

    [Fact]
    public void Paging_entries_pointing_past_RAM_read_all_ones_and_drop_writes()
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rax, __qword_ptr[0x60_0000]);
            a.mov(__qword_ptr[0x60_0008], rbx);
            a.mov(rcx, __qword_ptr[0x60_0008]);
            a.hlt();
        }, new LongModeGuestOptions { IdentityMapSize = 8 << 20 }, Ram);
        using (vm)
        {
            vcpu.Registers.Rbx = 0x1234;
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 100 });
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Equal(ExitReason.Hlt, result.LastExit.Basic);
            Assert.Equal(ulong.MaxValue, vcpu.Registers.Rax);
            Assert.Equal(ulong.MaxValue, vcpu.Registers.Rcx);
        }
    }

    [Fact]
    public void A_page_directory_entry_with_a_huge_frame_raises_a_reserved_page_fault()
    {
        var run = GuestRun.Execute(a => { a.mov(rax, __qword_ptr[0x60_0000]); a.hlt(); }, onExit: StopOnAnything, configure: v =>
            v.Machine.Memory.WriteUInt64(new GuestPhysicalAddress(LongModeGuest.PageDirectoryAddress + 3 * 8), (1UL << 50) | 0x83));
        var exit = SingleException(run, ExceptionVector.PageFault);
        Assert.Equal(0x60_0000UL, exit.Qualification);
        Assert.NotEqual(0u, exit.InterruptionErrorCode & 8);
    }

    [Fact]
    public void An_EPT_pointer_outside_RAM_ends_in_an_EPT_exit()
    {
        var run = GuestRun.Execute(a => a.hlt(), GuestRun.With(secondary: SecondaryProcessorControls.EnableEpt), onExit: StopOnAnything,
            configure: v => v.Vmcs.Write(VmcsField.EptPointer, 0x100_0000_0000 | 6 | (3 << 3)));
        AssertArchitecturalStop(run);
        var exit = Assert.Single(run.Exits);
        Assert.True(exit.Reason.IsEntryFailure || exit.Reason.Basic is ExitReason.EptMisconfiguration or ExitReason.EptViolation, exit.Reason.ToString());
    }

    [Theory]
    [InlineData(0xFFFF_FFFF_FFFF_F01EUL)]
    [InlineData((1UL << 46) | 0x1E)]
    [InlineData(0x1000UL | 0x1F)] // walk length 4 with memory type 7 (reserved)
    public void A_malformed_EPT_pointer_is_refused_at_entry(ulong eptp)
    {
        var run = GuestRun.Execute(a => a.hlt(), GuestRun.With(secondary: SecondaryProcessorControls.EnableEpt), onExit: StopOnAnything,
            configure: v => v.Vmcs.Write(VmcsField.EptPointer, eptp));
        AssertEntryRefused(run);
    }

    [Fact]
    public void Rep_stosb_with_a_huge_count_stops_where_the_mapping_ends_and_writes_only_RAM()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.rep.stosb(); a.hlt(); }, new LongModeGuestOptions { IdentityMapSize = 8 << 20 }, Ram);
        using (vm)
        {
            vcpu.Registers.Rdi = Ram - 16;
            vcpu.Registers.Rcx = ulong.MaxValue;
            vcpu.Registers.Rax = 0xCC;
            var handler = new RecordingHandler { OnExit = StopOnAnything };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000, Timeout = TimeSpan.FromSeconds(10) });
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            var exit = Assert.Single(handler.Exits);
            Assert.Equal(ExceptionVector.PageFault, exit.Interruption.Vector);
            Assert.Equal(8UL << 20, exit.Qualification);
            // Registers are restartable: RDI at the faulting byte, RCX counted down by what was stored.
            Assert.Equal(8UL << 20, vcpu.Registers.Rdi);
            Assert.Equal(ulong.MaxValue - ((4UL << 20) + 16), vcpu.Registers.Rcx);
            Assert.All(vm.Memory.GetSpan(new GuestPhysicalAddress(Ram - 16), 16).ToArray(), b => Assert.Equal(0xCC, b));
            Assert.Equal(0, vm.Memory.GetSpan(new GuestPhysicalAddress(Ram - 17), 1)[0]);
        }
    }

    [Fact]
    public void Rep_movsq_downwards_from_low_memory_wraps_into_an_unmapped_page_and_faults()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.std(); a.rep.movsq(); a.hlt(); }, memory: Ram);
        using (vm)
        {
            vm.Memory.WriteUInt64(new GuestPhysicalAddress(0x9_0010), 0x1111);
            vcpu.Registers.Rsi = 0x9_0010;
            vcpu.Registers.Rdi = 0x10;
            vcpu.Registers.Rcx = ulong.MaxValue;
            var handler = new RecordingHandler { OnExit = StopOnAnything };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1000, Timeout = TimeSpan.FromSeconds(10) });
            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            var exit = Assert.Single(handler.Exits);
            Assert.Equal(ExceptionVector.PageFault, exit.Interruption.Vector);
            Assert.Equal(0xFFFF_FFFF_FFFF_FFF8UL, exit.Qualification);
            Assert.Equal(0x1111UL, vm.Memory.ReadUInt64(new GuestPhysicalAddress(0x10)));
            Assert.Equal(ulong.MaxValue - 3, vcpu.Registers.Rcx);
        }
    }

    [Fact]
    public void Rep_movsb_reading_past_RAM_copies_all_ones()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.rep.movsb(); a.hlt(); }, new LongModeGuestOptions { IdentityMapSize = 8 << 20 }, Ram);
        using (vm)
        {
            vm.Memory.GetSpan(new GuestPhysicalAddress(Ram - 8), 8).Fill(0x42);
            vcpu.Registers.Rsi = Ram - 8;
            vcpu.Registers.Rdi = 0x20_0000;
            vcpu.Registers.Rcx = 32;
            var handler = new RecordingHandler();
            Assert.Equal(RunOutcome.Stopped, vcpu.Run(ref handler, new RunOptions { MaxInstructions = 100 }).Outcome);
            var copied = vm.Memory.GetSpan(new GuestPhysicalAddress(0x20_0000), 32).ToArray();
            Assert.All(copied[..8], b => Assert.Equal(0x42, b));
            Assert.All(copied[8..], b => Assert.Equal(0xFF, b));
        }
    }

    [Theory]
    [InlineData(0x4000_0000UL)] // not mapped by the guest's page tables
    [InlineData(0x60_0000UL)] // mapped, but no RAM behind it
    [InlineData(0xFFFF_FFFF_FFFF_F000UL)] // canonical, top of the address space
    public void An_IDT_outside_RAM_ends_in_a_triple_fault(ulong idtBase)
    {
        var run = GuestRun.Execute(a => { a.int3(); a.hlt(); }, new LongModeGuestOptions { ExceptionBitmap = 0, IdentityMapSize = 8 << 20 },
            configure: v => v.Vmcs.Write(VmcsField.GuestIdtrBase, idtBase), onExit: StopOnAnything);
        AssertArchitecturalStop(run);
        Assert.Equal(ExitReason.TripleFault, Assert.Single(run.Exits).Reason.Basic);
    }

    [Theory]
    [InlineData(0x4000_0000UL, true)]
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, true)]
    // Mapped without RAM behind it: the descriptor reads as all ones, a present, readable, conforming code segment,
    // which DS may hold; the load succeeds as it would on hardware.
    [InlineData(0x60_0000UL, false)]
    public void A_GDT_outside_RAM_faults_or_reads_all_ones_when_a_segment_is_loaded(ulong gdtBase, bool faults)
    {
        var run = GuestRun.Execute(a => { a.mov(eax, 0x10); a.mov(ds, ax); a.hlt(); }, new LongModeGuestOptions { IdentityMapSize = 8 << 20 },
            configure: v => v.Vmcs.Write(VmcsField.GuestGdtrBase, gdtBase), onExit: StopOnAnything);
        AssertArchitecturalStop(run);
        var exit = Assert.Single(run.Exits);
        if (!faults)
        {
            Assert.Equal(ExitReason.Hlt, exit.Reason.Basic);
            return;
        }
        Assert.Equal(ExitReason.ExceptionOrNmi, exit.Reason.Basic);
        Assert.Equal(ExceptionVector.PageFault, exit.Interruption.Vector);
    }

    [Fact]
    public void A_non_canonical_GDT_base_is_refused_at_entry()
    {
        var run = GuestRun.Execute(a => a.hlt(), configure: v => v.Vmcs.Write(VmcsField.GuestGdtrBase, 0x8000_0000_0000_0000), onExit: StopOnAnything);
        AssertEntryRefused(run);
    }
}
