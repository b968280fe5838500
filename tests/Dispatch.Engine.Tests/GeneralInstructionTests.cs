using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>Segment loads, ENTER, XLAT, CMPXCHG8B, invalid encodings and LOCK atomicity across vCPUs.</summary>
public sealed class GeneralInstructionTests
{
    private static RecordedExit Run(VCpu vcpu)
    {
        var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
        vcpu.Run(ref handler, new RunOptions { MaxInstructions = 10_000_000 });
        Assert.NotEmpty(handler.Exits);
        return handler.Exits[0];
    }

    [Fact]
    public void MovSreg_LoadsFromTheGdt_AndNullSelectorsMakeUnusableSegments()
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(eax, LongModeGuest.UserDataSelector);
            a.mov(ds, eax);
            a.mov(ebx, ds);
            a.xor(ecx, ecx);
            a.mov(es, ecx);
            a.mov(rdx, es);
            a.mov(eax, LongModeGuest.KernelDataSelector);
            a.mov(fs, eax);
            a.push(fs);
            a.pop(gs);
            a.mov(esi, gs);
            a.hlt();
        });
        using (vm)
        {
            Assert.Equal(ExitReason.Hlt, Run(vcpu).Reason.Basic);
            Assert.Equal((ulong)LongModeGuest.UserDataSelector, vcpu.Registers.Rbx);
            Assert.Equal(0UL, vcpu.Registers.Rdx);
            Assert.Equal((ulong)LongModeGuest.KernelDataSelector, vcpu.Registers.Rsi);
            Assert.Equal(0x8_0000UL, vcpu.Registers.Rsp);
            Assert.True((vcpu.Vmcs.Read32(VmcsField.GuestEsAccessRights) & SegmentRegister.UnusableBit) != 0);
            Assert.Equal((ulong)LongModeGuest.UserDataSelector, vcpu.Vmcs.Read(VmcsField.GuestDsSelector));
        }
    }

    [Fact]
    public void MovSreg_SystemDescriptor_RaisesGpWithTheSelector()
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(eax, LongModeGuest.TssSelector); a.mov(ds, eax); a.hlt(); });
        using (vm)
        {
            var exit = Run(vcpu);
            Assert.Equal(ExitReason.ExceptionOrNmi, exit.Reason.Basic);
            Assert.Equal(ExceptionVector.GeneralProtection, exit.Interruption.Vector);
            Assert.Equal((uint)LongModeGuest.TssSelector, exit.InterruptionErrorCode);
        }
    }

    [Fact]
    public void Enter_Xlat_Cmpxchg8b()
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rbp, 0x1234);
            a.enter(0x20, 0);
            a.mov(r8, rbp);
            a.mov(r9, rsp);
            a.mov(r10, __qword_ptr[rbp]);
            a.leave();
            a.mov(ebx, 0x30_0000);
            a.mov(__qword_ptr[rbx], 0x7766_5544);
            a.mov(eax, 2);
            a.xlatb();
            a.mov(r11, rax);
            // CMPXCHG8B: first fails (EDX:EAX gets memory), then succeeds (memory gets ECX:EBX).
            a.mov(eax, 1);
            a.xor(edx, edx);
            a.mov(ecx, 0xAABB);
            a.mov(ebx, 0xCCDD);
            a.mov(rdi, 0x30_0000);
            a.cmpxchg8b(__qword_ptr[rdi]);
            a.mov(r12, rax);
            a.cmpxchg8b(__qword_ptr[rdi]);
            a.mov(r13, __qword_ptr[rdi]);
            a.hlt();
        });
        using (vm)
        {
            Assert.Equal(ExitReason.Hlt, Run(vcpu).Reason.Basic);
            Assert.Equal(0x8_0000UL - 8, vcpu.Registers.R8);
            Assert.Equal(0x8_0000UL - 8 - 0x20, vcpu.Registers.R9);
            Assert.Equal(0x1234UL, vcpu.Registers.R10);
            Assert.Equal(0x1234UL, vcpu.Registers.Rbp);
            Assert.Equal(0x66UL, vcpu.Registers.R11 & 0xFF);
            Assert.Equal(0x7766_5544UL, vcpu.Registers.R12);
            Assert.Equal(0xAABB_0000_CCDDUL, vcpu.Registers.R13);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xD6 })] // SALC: invalid in 64-bit mode
    [InlineData(new byte[] { 0xF0, 0x01, 0xD8 })] // LOCK ADD EAX, EBX: LOCK needs a memory destination
    [InlineData(new byte[] { 0xF0, 0x8B, 0x03 })] // LOCK MOV EAX, [RBX]: not a read-modify-write
    [InlineData(new byte[] { 0x06 })] // PUSH ES: invalid in 64-bit mode
    public void InvalidIn64BitMode_RaisesUd(byte[] code)
    {
        var (vm, vcpu) = TestGuest.Create(a => { a.mov(ebx, 0x30_0000); a.db(code); a.hlt(); });
        using (vm)
        {
            var exit = Run(vcpu);
            Assert.Equal(ExitReason.ExceptionOrNmi, exit.Reason.Basic);
            Assert.Equal(ExceptionVector.InvalidOpcode, exit.Interruption.Vector);
            Assert.Equal(TestGuest.CodeAddress + 5, exit.Rip);
        }
    }

    [Fact]
    public void LockedIncrements_FromTwoVCpus_AreNotLost()
    {
        const int perVCpu = 200_000;
        var (vm, first) = TestGuest.Create(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, perVCpu);
            a.mov(ebx, 0x30_0000);
            a.Label(ref loop);
            a.@lock.inc(__qword_ptr[rbx]);
            a.@lock.add(__dword_ptr[rbx + 8], 2);
            a.mov(eax, 1);
            a.@lock.xadd(__qword_ptr[rbx + 16], rax);
            a.dec(ecx);
            a.jne(loop);
            a.hlt();
        });
        using (vm)
        {
            var second = vm.CreateVCpu();
            LongModeGuest.Setup(second, TestGuest.CodeAddress, new LongModeGuestOptions { StackPointer = 0x7_0000 });
            var results = vm.RunAll(_ => new RecordingHandler());
            Assert.All(results, r => Assert.Equal(RunOutcome.Stopped, r.Outcome));
            Assert.Equal(2UL * perVCpu, vm.Memory.ReadUInt64(new GuestPhysicalAddress(0x30_0000)));
            Assert.Equal(4UL * perVCpu, vm.Memory.ReadUInt64(new GuestPhysicalAddress(0x30_0008)));
            Assert.Equal(2UL * perVCpu, vm.Memory.ReadUInt64(new GuestPhysicalAddress(0x30_0010)));
        }
    }

    [Fact]
    public void HintSpace_RdsspReservedNopsCldemoteAndMpx_RunAsNopsThatTouchNoMemory()
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rbx, 0x1234);
            a.mov(ecx, 0x5678);
            a.rdsspq(rbx);                                        // CET shadow stacks off: RBX unchanged
            a.rdsspd(ecx);
            a.db(0x0F, 0x19, 0x04, 0x25, 0x00, 0x00, 0x00, 0x70); // reserved NOP [0x70000000], far outside RAM
            a.db(0x0F, 0x1C, 0x04, 0x25, 0x00, 0x00, 0x00, 0x70); // CLDEMOTE [0x70000000]
            a.db(0x0F, 0x1D, 0xC0);                               // reserved NOP eax, eax
            a.db(0x66, 0x0F, 0x1A, 0xC1);                         // BNDMOV bnd0, bnd1
            a.db(0xF3, 0x0F, 0x1A, 0x04, 0x25, 0x00, 0x00, 0x00, 0x70); // BNDCL bnd0, [0x70000000]
            a.endbr64();
            a.hlt();
        });
        using (vm)
        {
            var exit = Run(vcpu);
            Assert.True(exit.Reason.Basic == ExitReason.Hlt, $"{exit.Reason.Basic} vector {exit.Interruption.Vector} at {exit.Rip:X}");
            Assert.Equal(0x1234UL, vcpu.Registers.Rbx);
            Assert.Equal(0x5678UL, vcpu.Registers.Rcx);
        }
    }
}
