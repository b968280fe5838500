using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Dispatch.ControlRegisters;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>#PF error codes and CR2, accessed/dirty bits, EPT exits, IDT delivery (IST, #DF, triple fault) and self-modifying code.</summary>
public sealed class PagingAndExceptionTests
{
    // The 2 MiB region at 0x400000 is remapped with 4 KiB pages through a page table at 0x10000, one test page each.
    private const ulong Region = 0x40_0000, PageTable = 0x1_0000, Backing = 0x50_0000;
    private const ulong Present = 1, Writable = 2, User = 4, NoExecute = 1UL << 63;

    private static ulong PageAt(int index) => Region + (ulong)index * 0x1000;

    private static void MapSmallPages(VirtualMachine vm, bool userDirectory, params (int Index, ulong Flags)[] pages)
    {
        var m = vm.Memory;
        if (userDirectory)
        {
            // A user page needs U at every level.
            foreach (ulong entry in new[] { LongModeGuest.Pml4Address, LongModeGuest.PdptAddress })
                m.WriteUInt64(new GuestPhysicalAddress(entry), m.ReadUInt64(new GuestPhysicalAddress(entry)) | User);
        }
        m.WriteUInt64(new GuestPhysicalAddress(LongModeGuest.PageDirectoryAddress + 2 * 8), PageTable | Present | Writable | (userDirectory ? User : 0));
        foreach (var (index, flags) in pages)
            m.WriteUInt64(new GuestPhysicalAddress(PageTable + (ulong)index * 8), flags == 0 ? 0 : (Backing + (ulong)index * 0x1000) | flags);
    }

    private static ulong Pte(VirtualMachine vm, int index) => vm.Memory.ReadUInt64(new GuestPhysicalAddress(PageTable + (ulong)index * 8));

    private static RecordedExit RunToFirstExit(VCpu vcpu)
    {
        var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
        vcpu.Run(ref handler, new RunOptions { MaxInstructions = 1_000_000 });
        Assert.NotEmpty(handler.Exits);
        return handler.Exits[0];
    }

    private static void AssertPageFault(RecordedExit exit, ulong address, uint errorCode)
    {
        Assert.Equal(ExitReason.ExceptionOrNmi, exit.Reason.Basic);
        Assert.Equal(ExceptionVector.PageFault, exit.Interruption.Vector);
        Assert.Equal(address, exit.Qualification);
        Assert.Equal(errorCode, exit.InterruptionErrorCode);
    }

    [Fact]
    public void NotPresent_ReadFaultsWithErrorCode0()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, PageAt(0) + 0x18); a.mov(rbx, __qword_ptr[rax]); a.hlt(); }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, false, (0, 0));
            AssertPageFault(RunToFirstExit(vcpu), PageAt(0) + 0x18, 0);
            Assert.Equal(TestGuest.CodeAddress + 10, vcpu.Vmcs.Read(VmcsField.GuestRip));
        }
    }

    [Fact]
    public void WriteToReadOnly_WithCr0Wp_FaultsWithPresentAndWrite()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, PageAt(1)); a.mov(__dword_ptr[rax + 4], 7); a.hlt(); }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, false, (1, Present));
            AssertPageFault(RunToFirstExit(vcpu), PageAt(1) + 4, 3);
        }
    }

    [Fact]
    public void UserReadOfSupervisorPage_FaultsWithPresentAndUser()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, PageAt(2)); a.mov(rbx, __qword_ptr[rax]); a.hlt(); },
            new LongModeGuestOptions { Cpl = 3 }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, true, (2, Present | Writable));
            AssertPageFault(RunToFirstExit(vcpu), PageAt(2), 5);
        }
    }

    [Fact]
    public void FetchFromNoExecutePage_FaultsWithInstructionFetch()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, PageAt(3)); a.jmp(rax); }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, false, (3, Present | Writable | NoExecute));
            AssertPageFault(RunToFirstExit(vcpu), PageAt(3), 0x11);
        }
    }

    [Fact]
    public void ReservedBitInPte_FaultsWithReserved()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, PageAt(4)); a.mov(rbx, __qword_ptr[rax]); a.hlt(); }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, false, (4, Present | Writable | (1UL << 50)));
            AssertPageFault(RunToFirstExit(vcpu), PageAt(4), 9);
        }
    }

    [Fact]
    public void Smep_SupervisorFetchFromUserPage_Faults()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(rax, PageAt(5)); a.jmp(rax); }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, true, (5, Present | Writable | User));
            vm.Memory.Write(new GuestPhysicalAddress(Backing + 5 * 0x1000), (byte)0xF4);
            vcpu.Vmcs.Write(VmcsField.GuestCr4, vcpu.Vmcs.Read(VmcsField.GuestCr4) | Cr4SMEP);
            AssertPageFault(RunToFirstExit(vcpu), PageAt(5), 0x11);
        }
    }

    [Fact]
    public void Smap_SupervisorReadOfUserPage_FaultsUnlessAcIsSet()
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rax, PageAt(6));
            a.stac();
            a.mov(rbx, __qword_ptr[rax]);
            a.clac();
            a.mov(rbx, __qword_ptr[rax + 8]);
            a.hlt();
        }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, true, (6, Present | Writable | User));
            vcpu.Vmcs.Write(VmcsField.GuestCr4, vcpu.Vmcs.Read(VmcsField.GuestCr4) | Cr4SMAP);
            AssertPageFault(RunToFirstExit(vcpu), PageAt(6) + 8, 1);
        }
    }

    [Fact]
    public void AccessedAndDirtyBits_AreSetByReadsAndWrites()
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rax, PageAt(7));
            a.mov(rbx, __qword_ptr[rax]);
            a.mov(rax, PageAt(8));
            a.mov(__qword_ptr[rax], rbx);
            a.hlt();
        }, memory: 8 << 20);
        using (vm)
        {
            MapSmallPages(vm, false, (7, Present | Writable), (8, Present | Writable));
            Assert.Equal(ExitReason.Hlt, RunToFirstExit(vcpu).Reason.Basic);
            Assert.Equal(0x20UL, Pte(vm, 7) & 0x60);
            Assert.Equal(0x60UL, Pte(vm, 8) & 0x60);
        }
    }

    // EPT: identity map of the first 8 MiB with 2 MiB pages; 0x400000 is read/execute only, 0x600000 write-only (misconfigured).
    private const ulong EptPml4 = 0x2_0000, EptPdpt = 0x2_1000, EptPd = 0x2_2000;

    private static (VirtualMachine, VCpu) EptGuest(Action<Assembler> program)
    {
        var (vm, vcpu) = TestGuest.Create(program, new LongModeGuestOptions { SecondaryControls = SecondaryProcessorControls.EnableEpt }, memory: 8 << 20);
        var m = vm.Memory;
        m.WriteUInt64(new GuestPhysicalAddress(EptPml4), EptPdpt | 7);
        m.WriteUInt64(new GuestPhysicalAddress(EptPdpt), EptPd | 7);
        for (ulong i = 0; i < 4; i++)
        {
            ulong rwx = i switch { 2 => 5UL, 3 => 2UL, _ => 7UL };
            m.WriteUInt64(new GuestPhysicalAddress(EptPd + i * 8), (i << 21) | rwx | (6 << 3) | 0x80);
        }
        vcpu.Vmcs.Write(VmcsField.EptPointer, EptPml4 | (3 << 3) | 6);
        return (vm, vcpu);
    }

    [Fact]
    public void EptViolation_WriteToReadOnlyPage_ReportsQualificationAndAddresses()
    {
        var (vm, vcpu) = EptGuest(a => { a.mov(rax, 0x40_0010); a.mov(__qword_ptr[rax], rax); a.hlt(); });
        using (vm)
        {
            var exit = RunToFirstExit(vcpu);
            Assert.Equal(ExitReason.EptViolation, exit.Reason.Basic);
            // Bit 1 write access; bits 3-5 the page's R/W/X (read and execute); bit 7 linear address valid; bit 8 the
            // access was to the final translation.
            Assert.Equal(2UL | (5UL << 3) | (1UL << 7) | (1UL << 8), exit.Qualification);
            Assert.Equal(0x40_0010UL, exit.GuestPhysicalAddress);
            Assert.Equal(0x40_0010UL, exit.GuestLinearAddress);
            Assert.Equal(TestGuest.CodeAddress + 10, exit.Rip);
        }
    }

    [Fact]
    public void EptMisconfiguration_WriteOnlyEntry_ExitsWithAddress()
    {
        var (vm, vcpu) = EptGuest(a => { a.mov(rax, 0x60_0020); a.mov(rbx, __qword_ptr[rax]); a.hlt(); });
        using (vm)
        {
            var exit = RunToFirstExit(vcpu);
            Assert.Equal(ExitReason.EptMisconfiguration, exit.Reason.Basic);
            Assert.Equal(0x60_0020UL, exit.GuestPhysicalAddress);
        }
    }

    // ---- Delivery through the guest's IDT ----

    private static void WriteGate(VirtualMachine vm, int vector, ulong handler, int ist = 0, bool present = true)
    {
        ulong low = (handler & 0xFFFF) | ((ulong)LongModeGuest.KernelCodeSelector << 16) | ((ulong)ist << 32) | (0xEUL << 40)
            | (present ? 1UL << 47 : 0) | (((handler >> 16) & 0xFFFF) << 48);
        vm.Memory.WriteUInt64(new GuestPhysicalAddress(LongModeGuest.IdtAddress + (ulong)vector * 16), low);
        vm.Memory.WriteUInt64(new GuestPhysicalAddress(LongModeGuest.IdtAddress + (ulong)vector * 16 + 8), handler >> 32);
    }

    private static readonly LongModeGuestOptions NoExceptionExits = new() { ExceptionBitmap = 0 };

    /// <summary>A guest whose handler for each vector puts the vector in R9, the stack pointer in R10, the top of the frame in R11, then halts.</summary>
    private static (VirtualMachine, VCpu, AssemblerResult, Label[] Handlers) IdtGuest(Action<Assembler> body, params int[] vectors)
    {
        var handlers = new Label[vectors.Length];
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            body(a);
            a.hlt();
            for (int i = 0; i < vectors.Length; i++)
            {
                handlers[i] = a.CreateLabel();
                a.Label(ref handlers[i]);
                a.mov(r9d, vectors[i]);
                a.mov(r10, rsp);
                a.mov(r11, __qword_ptr[rsp]);
                a.hlt();
            }
        }, out var assembled, NoExceptionExits);
        return (vm, vcpu, assembled, handlers);
    }

    [Fact]
    public void DivideError_IsDeliveredThroughTheIdt_WithTheFaultingRip()
    {
        Label div = default;
        var (vm, vcpu, asm, handlers) = IdtGuest(a =>
        {
            div = a.CreateLabel();
            a.xor(ecx, ecx);
            a.Label(ref div);
            a.div(ecx);
        }, ExceptionVector.DivideError);
        using (vm)
        {
            WriteGate(vm, 0, asm.GetLabelRIP(handlers[0]));
            Assert.Equal(ExitReason.Hlt, RunToFirstExit(vcpu).Reason.Basic);
            Assert.Equal(0UL, vcpu.Registers.R9);
            Assert.Equal(asm.GetLabelRIP(div), vcpu.Registers.R11);
            Assert.Equal(0x8_0000UL - 40, vcpu.Registers.R10);
        }
    }

    [Fact]
    public void GeneralProtection_PushesErrorCode_AndUsesTheIstStack()
    {
        var (vm, vcpu, asm, handlers) = IdtGuest(a =>
        {
            a.mov(rax, 0x8000_0000_0000_0000UL);
            a.mov(__qword_ptr[rax], 1);
        }, ExceptionVector.GeneralProtection);
        using (vm)
        {
            WriteGate(vm, 13, asm.GetLabelRIP(handlers[0]), ist: 2);
            vm.Memory.WriteUInt64(new GuestPhysicalAddress(LongModeGuest.TssAddress + 36 + 8), 0x6_0000);
            Assert.Equal(ExitReason.Hlt, RunToFirstExit(vcpu).Reason.Basic);
            Assert.Equal(13UL, vcpu.Registers.R9);
            Assert.Equal(0x6_0000UL - 48, vcpu.Registers.R10);
            Assert.Equal(0UL, vcpu.Registers.R11); // error code
            Assert.Equal(TestGuest.CodeAddress + 10, vm.Memory.ReadUInt64(new GuestPhysicalAddress(0x6_0000 - 40)));
        }
    }

    [Fact]
    public void InvalidOpcode_IsDelivered()
    {
        var (vm, vcpu, asm, handlers) = IdtGuest(a => a.ud2(), ExceptionVector.InvalidOpcode);
        using (vm)
        {
            WriteGate(vm, 6, asm.GetLabelRIP(handlers[0]));
            Assert.Equal(ExitReason.Hlt, RunToFirstExit(vcpu).Reason.Basic);
            Assert.Equal(6UL, vcpu.Registers.R9);
            Assert.Equal(TestGuest.CodeAddress, vcpu.Registers.R11);
        }
    }

    [Fact]
    public void FaultWhileDeliveringGp_BecomesDoubleFault()
    {
        var (vm, vcpu, asm, handlers) = IdtGuest(a =>
        {
            a.mov(rax, 0x8000_0000_0000_0000UL);
            a.mov(__qword_ptr[rax], 1);
        }, ExceptionVector.DoubleFault);
        using (vm)
        {
            WriteGate(vm, 13, asm.GetLabelRIP(handlers[0]), present: false); // #GP delivery raises #NP: contributory twice
            WriteGate(vm, 8, asm.GetLabelRIP(handlers[0]), ist: 1);
            vm.Memory.WriteUInt64(new GuestPhysicalAddress(LongModeGuest.TssAddress + 36), 0x6_0000);
            Assert.Equal(ExitReason.Hlt, RunToFirstExit(vcpu).Reason.Basic);
            Assert.Equal((ulong)ExceptionVector.DoubleFault, vcpu.Registers.R9);
            Assert.Equal(0UL, vcpu.Registers.R11); // #DF pushes error code 0
        }
    }

    [Fact]
    public void FaultWhileDeliveringDoubleFault_IsATripleFaultExit()
    {
        var (vm, vcpu, _, _) = IdtGuest(a =>
        {
            a.mov(rax, 0x8000_0000_0000_0000UL);
            a.mov(__qword_ptr[rax], 1);
        }, 0);
        using (vm)
        {
            var exit = RunToFirstExit(vcpu);
            Assert.Equal(ExitReason.TripleFault, exit.Reason.Basic);
        }
    }

    [Fact]
    public void SelfModifyingCode_ExecutesTheNewBytes()
    {
        Label target = default;
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            target = a.CreateLabel();
            var loop = a.CreateLabel();
            a.mov(ecx, 2);
            a.Label(ref loop);
            a.lea(rdi, __qword_ptr[target]);
            a.mov(__byte_ptr[rdi + 1], cl); // patches the immediate of the MOV below, already decoded in this block
            a.Label(ref target);
            a.mov(al, 0);
            a.movzx(ebx, al);
            a.shl(rdx, 8);
            a.or(rdx, rbx);
            a.dec(ecx);
            a.jne(loop);
            a.hlt();
        });
        using (vm)
        {
            Assert.Equal(ExitReason.Hlt, RunToFirstExit(vcpu).Reason.Basic);
            Assert.Equal(0x0201UL, vcpu.Registers.Rdx);
        }
    }
}
