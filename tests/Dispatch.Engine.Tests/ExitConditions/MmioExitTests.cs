using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>
/// MMIO through EPT holes, the way a VMM emulates a device: the guest's loads and stores to an unmapped guest-physical
/// page exit with an EPT violation (Intel SDM Vol. 3C, 28.2.1, Table 28-7), the instruction does not retire, and the
/// handler emulates it and moves RIP on. These exits, and page faults delivered through the guest's IDT, take no .NET
/// exception and allocate nothing.
/// </summary>
public sealed class MmioExitTests
{
    // EPT identity-maps the first 8 MiB with 2 MiB pages, except 0x600000-0x7FFFFF, which is left unmapped (the MMIO hole).
    private const ulong EptPml4 = 0x2_0000, EptPdpt = 0x2_1000, EptPd = 0x2_2000;
    private const ulong MmioBase = 0x60_0000;

    private static (VirtualMachine Vm, VCpu VCpu) MmioGuest(Action<Assembler> program, out AssemblerResult assembled, LongModeGuestOptions? options = null)
    {
        options ??= new LongModeGuestOptions();
        options = options with { SecondaryControls = options.SecondaryControls | SecondaryProcessorControls.EnableEpt };
        var (vm, vcpu) = TestGuest.Create(program, out assembled, options, memory: 8 << 20);
        var m = vm.Memory;
        m.WriteUInt64(new GuestPhysicalAddress(EptPml4), EptPdpt | 7);
        m.WriteUInt64(new GuestPhysicalAddress(EptPdpt), EptPd | 7);
        for (ulong i = 0; i < 3; i++) m.WriteUInt64(new GuestPhysicalAddress(EptPd + i * 8), (i << 21) | 7 | (6 << 3) | 0x80);
        vcpu.Vmcs.Write(VmcsField.EptPointer, EptPml4 | (3 << 3) | 6);
        return (vm, vcpu);
    }

    /// <summary>Emulates 32-bit MMIO stores of the guest's <c>mov [rdi], eax</c> (2 bytes) and stops at HLT.</summary>
    private struct MmioStoreHandler : IExitHandler
    {
        public const int StoreLength = 2;
        public long Stores;
        public ulong LastValue, LastQualification, LastAddress;

        public ExitAction Dispatch(ref ExitContext context)
        {
            switch (context.ExitReason.Basic)
            {
                case ExitReason.EptViolation:
                    Stores++;
                    LastValue = (uint)context.Registers.Rax;
                    LastQualification = context.ExitQualification;
                    LastAddress = context.GuestPhysicalAddress;
                    // An EPT violation reports no instruction length: the VMM knows the store it emulated.
                    context.Vmcs.Write(VmcsField.GuestRip, context.GuestRip + StoreLength);
                    return ExitAction.Resume;
                case ExitReason.Hlt:
                    return ExitAction.Stop;
                default:
                    return ExitAction.Unhandled;
            }
        }
    }

    private static void StoreLoop(Assembler a, int iterations)
    {
        var loop = a.CreateLabel();
        a.mov(rdi, MmioBase + 0x40);
        a.mov(r8d, iterations);
        a.Label(ref loop);
        a.mov(eax, r8d);
        a.mov(__dword_ptr[rdi], eax);
        a.dec(r8d);
        a.jnz(loop);
        a.hlt();
    }

    [Fact]
    public void MmioStoreRoundTrips_AllocateNothing()
    {
        const int iterations = 2_000;
        var (vm, vcpu) = MmioGuest(a => StoreLoop(a, iterations), out _);
        using (vm)
        {
            var handler = new MmioStoreHandler();
            // Warm-up runs: the first ones decode blocks and let the JIT tier up; the steady state is what must not allocate.
            for (int warmup = 0; warmup < 3; warmup++)
            {
                handler = new MmioStoreHandler();
                vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
                Assert.Equal(RunOutcome.Stopped, vcpu.Run(ref handler).Outcome);
                Assert.Equal(iterations, handler.Stores);
            }

            handler = new MmioStoreHandler();
            vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var result = vcpu.Run(ref handler);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Equal(iterations, handler.Stores);
            Assert.Equal(1UL, handler.LastValue); // the last iteration stores R8D = 1
            Assert.Equal(MmioBase + 0x40, handler.LastAddress);
            Assert.Equal(0, allocated);
        }
    }

    [Fact]
    public void MmioStore_DoesNotRetire_AndReportsTheSdmQualification()
    {
        Label store = default;
        var (vm, vcpu) = MmioGuest(a =>
        {
            store = a.CreateLabel();
            a.mov(rdi, MmioBase + 0x1234);
            a.mov(eax, 0xABCD);
            a.Label(ref store);
            a.mov(__dword_ptr[rdi], eax);
            a.hlt();
        }, out var assembled);
        using (vm)
        {
            var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
            vcpu.Run(ref handler);
            var exit = Assert.Single(handler.Exits);
            Assert.Equal(ExitReason.EptViolation, exit.Reason.Basic);
            // Bit 1 data write; bits 5:3 the R/W/X of the (absent) translation: none; bit 7 linear address valid; bit 8 the
            // access was to the final translation, not to a paging structure.
            Assert.Equal(2UL | (1UL << 7) | (1UL << 8), exit.Qualification);
            Assert.Equal(MmioBase + 0x1234, exit.GuestPhysicalAddress);
            Assert.Equal(MmioBase + 0x1234, exit.GuestLinearAddress);
            // Fault-like: RIP is the store's and the instructions before it in the block retired.
            Assert.Equal(assembled.GetLabelRIP(store), exit.Rip);
            Assert.Equal(0xABCDUL, exit.Rax);
            Assert.Equal(2, vcpu.InstructionsRetired);
        }
    }

    [Fact]
    public void MmioLoad_LeavesTheDestinationUnwritten()
    {
        var (vm, vcpu) = MmioGuest(a =>
        {
            a.mov(rsi, MmioBase + 8);
            a.mov(rbx, 0x1111);
            a.mov(rbx, __qword_ptr[rsi]);
            a.hlt();
        }, out _);
        using (vm)
        {
            var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
            vcpu.Run(ref handler);
            var exit = Assert.Single(handler.Exits);
            Assert.Equal(ExitReason.EptViolation, exit.Reason.Basic);
            Assert.Equal(1UL | (1UL << 7) | (1UL << 8), exit.Qualification); // data read
            Assert.Equal(MmioBase + 8, exit.GuestPhysicalAddress);
            Assert.Equal(0x1111UL, vcpu.Registers.Rbx);
        }
    }

    [Fact]
    public void StoreSplitAcrossAnMmioBoundary_WritesNothing()
    {
        // An 8-byte store whose first 4 bytes are RAM (the last bytes below the hole) and last 4 bytes are in the hole.
        const ulong split = MmioBase - 4;
        var (vm, vcpu) = MmioGuest(a =>
        {
            a.mov(rdi, split);
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.mov(__qword_ptr[rdi], rax);
            a.hlt();
        }, out _);
        using (vm)
        {
            vm.Memory.WriteUInt64(new GuestPhysicalAddress(split - 4), 0xFFFF_FFFF_FFFF_FFFF);
            var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
            vcpu.Run(ref handler);
            var exit = Assert.Single(handler.Exits);
            Assert.Equal(ExitReason.EptViolation, exit.Reason.Basic);
            Assert.Equal(MmioBase, exit.GuestPhysicalAddress);
            Assert.Equal(0xFFFF_FFFF_FFFF_FFFFUL, vm.Memory.ReadUInt64(new GuestPhysicalAddress(split - 4)));
        }
    }

    [Fact]
    public void PageFaultsDeliveredThroughTheGuestIdt_AllocateNothing()
    {
        // Each iteration loads from a not-present page; the guest's #PF handler counts the fault in R9, records CR2 in R10
        // and returns past the 3-byte load (mov rbx, [rsi]).
        const int iterations = 500;
        var handlerLabel = default(Label);
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            var loop = a.CreateLabel();
            handlerLabel = a.CreateLabel();
            a.mov(rsi, 0x7F_0000_0000UL); // beyond the identity map: not present
            a.mov(r8d, iterations);
            a.Label(ref loop);
            a.mov(rbx, __qword_ptr[rsi]);
            a.dec(r8d);
            a.jnz(loop);
            a.hlt();
            a.Label(ref handlerLabel);
            a.inc(r9);
            a.mov(r10, cr2);
            a.add(rsp, 8);                   // the error code
            a.add(__qword_ptr[rsp], 3);      // return past the load
            a.iretq();
        }, out var assembled, new LongModeGuestOptions { ExceptionBitmap = 0 });
        using (vm)
        {
            LongModeGuest.SetInterruptGate(vm, ExceptionVector.PageFault, assembled.GetLabelRIP(handlerLabel));
            var handler = new RecordingHandler();
            // Warm-up runs (block decoding, JIT tiering); the steady state is what must not allocate.
            for (int warmup = 0; warmup < 3; warmup++)
            {
                vcpu.Registers.R9 = 0;
                vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
                handler.Exits.Clear();
                vcpu.Run(ref handler);
                Assert.Equal((ulong)iterations, vcpu.Registers.R9);
            }

            vcpu.Registers.R9 = 0;
            vcpu.Vmcs.Write(VmcsField.GuestRip, TestGuest.CodeAddress);
            handler.Exits.Clear();
            long before = GC.GetAllocatedBytesForCurrentThread();
            vcpu.Run(ref handler);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(ExitReason.Hlt, Assert.Single(handler.Exits).Reason.Basic);
            Assert.Equal((ulong)iterations, vcpu.Registers.R9);
            Assert.Equal(0x7F_0000_0000UL, vcpu.Registers.R10);
            Assert.Equal(0, allocated);
        }
    }
}
