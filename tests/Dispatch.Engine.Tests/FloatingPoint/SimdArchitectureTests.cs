using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>Known answers and the architectural exception rules around x87/SSE (SDM Vol. 3A 2.5, 13.1; Vol. 2 tables).</summary>
public sealed class SimdArchitectureTests
{
    private const ulong Data = 0x20_0000;

    private static (VCpu VCpu, RecordingHandler Handler, VirtualMachine Vm) Run(Action<Assembler> program, Action<VirtualMachine>? setup = null)
    {
        var (vm, vcpu) = TestGuest.Create(program);
        setup?.Invoke(vm);
        var handler = new RecordingHandler();
        handler.StopOn.Add(ExitReason.ExceptionOrNmi);
        vcpu.Run(ref handler);
        return (vcpu, handler, vm);
    }

    private static int ExceptionVector(RecordingHandler h) =>
        h.Exits[^1].Reason.Basic == ExitReason.ExceptionOrNmi ? h.Exits[^1].Interruption.Vector : -1;

    [Fact]
    public void Cpuid_ReportsExactlyTheImplementedSets()
    {
        var leaf1 = CpuidModel.Default.Query(1);
        // FPU, TSC, MSR, CX8, CMOV, PAT, MMX, FXSR, SSE, SSE2.
        uint edx = 1u | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 15) | (1u << 16) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26);
        // SSE3, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, XSAVE, hypervisor; no PCLMULQDQ, MONITOR, FMA, AES, AVX, and no
        // OSXSAVE at reset (CR4.OSXSAVE = 0).
        uint ecx = 1u | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | (1u << 22) | (1u << 23) | (1u << 26) | (1u << 31);
        Assert.Equal(edx, leaf1.Edx);
        Assert.Equal(ecx, leaf1.Ecx);
        var leaf7 = CpuidModel.Default.Query(7);
        Assert.Equal(0u, leaf7.Ebx & (1u << 5)); // no AVX2
    }

    [Fact]
    public void ScalarDivideByZero_Unmasked_RaisesXmAndKeepsDestination()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rax, Data);
            a.mov(__dword_ptr[rax], 0x1F80 & ~0x200); // ZM clear
            a.ldmxcsr(__dword_ptr[rax]);
            a.mov(ecx, 0x3F800000);
            a.movd(xmm1, ecx);
            a.pxor(xmm2, xmm2);
            a.divss(xmm1, xmm2);
            a.hlt();
        });
        using (vm)
        {
            Assert.Equal(19, ExceptionVector(h));
            Assert.Equal(0x1F80u & ~0x200u | 0x4u, vcpu.Processor.Mxcsr);
            Assert.Equal(0x3F800000u, System.Runtime.Intrinsics.Vector128.AsUInt32(vcpu.Processor.Xmm[1])[0]);
        }
    }

    [Fact]
    public void SseWithoutOsfxsr_IsInvalidOpcode_AndWithTs_IsDeviceNotAvailable()
    {
        var (_, h1, vm1) = Run(a =>
        {
            a.mov(rax, cr4);
            a.and(rax, ~0x200);
            a.mov(cr4, rax);
            a.addps(xmm0, xmm1);
            a.hlt();
        });
        using (vm1) Assert.Equal(6, ExceptionVector(h1));
        var (_, h2, vm2) = Run(a =>
        {
            a.mov(rax, cr0);
            a.or(rax, 8);
            a.mov(cr0, rax);
            a.addps(xmm0, xmm1);
            a.hlt();
        });
        using (vm2) Assert.Equal(7, ExceptionVector(h2));
    }

    [Fact]
    public void MisalignedMovaps_IsGeneralProtection_MovupsIsNot()
    {
        var (_, h, vm) = Run(a =>
        {
            a.mov(rax, Data + 4);
            a.movups(xmm0, __xmmword_ptr[rax]);
            a.movaps(xmm0, __xmmword_ptr[rax]);
            a.hlt();
        });
        using (vm) Assert.Equal(13, ExceptionVector(h));
    }

    [Fact]
    public void UnmaskedX87Exception_IsDeliveredAtTheNextWaitingInstruction()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rax, Data);
            a.mov(__word_ptr[rax], 0x37B); // ZM clear
            a.fldcw(__word_ptr[rax]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);   // records ZE and ES, no fault yet
            a.mov(ebx, 1);
            a.wait();            // #MF here
            a.hlt();
        });
        using (vm)
        {
            Assert.Equal(16, ExceptionVector(h));
            Assert.Equal(1UL, vcpu.Registers.Rbx);
            Assert.Equal(0x84, vcpu.Processor.FpuStatusWord & 0xFF);
        }
    }

    [Fact]
    public void KnownAnswers_ConversionsStringsAndExtendedPrecision()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rax, 0x41F0000000000000UL); // 2^32
            a.movq(xmm0, rax);
            a.cvttsd2si(ebx, xmm0);           // out of range: integer indefinite 0x80000000
            a.mov(rsi, Data);
            a.movdqu(xmm1, __xmmword_ptr[rsi]);
            a.pxor(xmm2, xmm2);
            a.pcmpistri(xmm2, xmm1, 0x08);    // strlen idiom: index of the first zero byte of xmm1
            a.mov(r8, rcx);
            a.fldpi();
            a.fsqrt();
            a.fstp(__tword_ptr[rsi + 32]);    // sqrt(pi) in 80 bits
            a.stmxcsr(__dword_ptr[rsi + 48]);
            a.hlt();
        }, vm => vm.Memory.Write(new GuestPhysicalAddress(Data), "hello, world\0xyz"u8.ToArray()));
        using (vm)
        {
            Assert.Equal(ExitReason.Hlt, h.Exits[^1].Reason.Basic);
            Assert.Equal(0x80000000UL, vcpu.Registers.Rbx);
            Assert.Equal(12UL, vcpu.Registers.R8);
            // sqrt(pi) = 1.7724538509055160272981674833411... = 0x3FFF E2DF C48D A77B 553D (round to nearest).
            Assert.Equal(0xE2DFC48DA77B553DUL, vm.Memory.ReadUInt64(new GuestPhysicalAddress(Data + 32)));
            Assert.Equal((ushort)0x3FFF, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 40)));
            Assert.Equal(0x1F81u, vm.Memory.Read<uint>(new GuestPhysicalAddress(Data + 48))); // IE alone from CVTTSD2SI
        }
    }

    [Fact]
    public void Fxsave_WritesTheArchitecturalLayout()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rsi, Data);
            a.fninit();
            a.fld1();
            a.mov(eax, 0x12345678);
            a.movd(xmm5, eax);
            a.fxsave64(__[rsi]);
            a.hlt();
        });
        using (vm)
        {
            Assert.Equal(ExitReason.Hlt, h.Exits[^1].Reason.Basic);
            var image = new byte[416];
            vm.Memory.Read(new GuestPhysicalAddress(Data), image);
            Assert.Equal((ushort)0x37F, BitConverter.ToUInt16(image, 0));
            Assert.Equal((ushort)(7 << 11), BitConverter.ToUInt16(image, 2)); // TOP = 7
            Assert.Equal((byte)0x80, image[4]);                                 // R7 valid
            Assert.Equal(0x1F80u, BitConverter.ToUInt32(image, 24));
            Assert.Equal(0x8000000000000000UL, BitConverter.ToUInt64(image, 32)); // ST0 = 1.0
            Assert.Equal((ushort)0x3FFF, BitConverter.ToUInt16(image, 40));
            Assert.Equal(0x12345678u, BitConverter.ToUInt32(image, 160 + 5 * 16));
            Assert.Equal(TestGuest.CodeAddress + 12, BitConverter.ToUInt64(image, 8)); // FIP: the FLD1 after MOV RSI (10) and FNINIT (2)
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FnsaveThenFrstor_RestoresTheStackAndRecordsGuestPointers(bool operandSizePrefix)
    {
        // DD /6 and DD /4 with [RSI]: the 108-byte image, or with 66 the 94-byte one (SDM Vol. 1, Figures 8-9 and 8-11).
        byte[] prefix = operandSizePrefix ? [0x66] : [];
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rsi, Data);
            a.fldpi();
            a.fld1();
            a.db([.. prefix, 0xDD, 0x36]);       // FNSAVE: stores, then reinitialises
            a.fldz();
            a.db([.. prefix, 0xDD, 0x26]);       // FRSTOR
            a.fstp(__qword_ptr[rsi + 200]);
            a.fstp(__qword_ptr[rsi + 208]);
            a.hlt();
        });
        using (vm)
        {
            Assert.True(h.Exits[^1].Reason.Basic == ExitReason.Hlt, $"vector {ExceptionVector(h)} at {h.Exits[^1].Rip - TestGuest.CodeAddress}");
            Assert.Equal(1.0, vm.Memory.Read<double>(new GuestPhysicalAddress(Data + 200)));
            Assert.Equal(Math.PI, vm.Memory.Read<double>(new GuestPhysicalAddress(Data + 208)));
            // The saved FIP is the guest address of the FLD1: a 32-bit offset at 12, or a 16-bit one at 6.
            if (operandSizePrefix) Assert.Equal(unchecked((ushort)(TestGuest.CodeAddress + 12)), vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 6)));
            else Assert.Equal((uint)(TestGuest.CodeAddress + 12), vm.Memory.Read<uint>(new GuestPhysicalAddress(Data + 12)));
            // ST0 (1.0) follows the environment: significand 8000...0, exponent 3FFF.
            ulong st0 = operandSizePrefix ? 14UL : 28UL;
            Assert.Equal(0x8000000000000000UL, vm.Memory.Read<ulong>(new GuestPhysicalAddress(Data + st0)));
            Assert.Equal((ushort)0x3FFF, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + st0 + 8)));
            Assert.Equal((ushort)0xFFFF, vcpu.Processor.FpuTagWord);
        }
    }

    [Fact]
    public void Fnstenv16_StoresTheFourteenByteLayoutWithGuestPointers()
    {
        // 66 D9 36: FNSTENV m14byte, the 16-bit protected-mode layout (SDM Vol. 1, Figure 8-11).
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rsi, Data);                    // 10 bytes
            a.mov(__dword_ptr[rsi + 14], 0x5A5A5A5A); // 7 bytes: a marker just past the 14-byte image
            a.fninit();                          // 2 bytes, at +17
            a.fld1();                            // 2 bytes, at +19
            a.fst(__qword_ptr[rsi + 0x1238]);    // at +21: FDP = Data + 0x1238
            a.db(0x66, 0xD9, 0x36);              // FNSTENV [rsi] with an operand-size prefix
            a.hlt();
        });
        using (vm)
        {
            Assert.True(h.Exits[^1].Reason.Basic == ExitReason.Hlt, $"vector {ExceptionVector(h)}");
            Assert.Equal((ushort)0x037F, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data)));       // FCW after FNINIT
            Assert.Equal((ushort)(7 << 11), (ushort)(vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 2)) & 0x3800)); // TOP = 7
            Assert.Equal((ushort)0x3FFF, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 4)));   // ST0 valid, rest empty
            Assert.Equal(unchecked((ushort)(TestGuest.CodeAddress + 21)), vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 6)));
            Assert.Equal((ushort)0, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 8)));
            Assert.Equal(unchecked((ushort)(Data + 0x1238)), vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 10)));
            Assert.Equal((ushort)0, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 12)));
            Assert.Equal(0x5A5A5A5Au, vm.Memory.Read<uint>(new GuestPhysicalAddress(Data + 14)));
            Assert.Equal(0x3Fu, vcpu.Processor.FpuControlWord & 0x3Fu); // FNSTENV masks every exception
        }
    }

    [Fact]
    public void Fldenv16_LoadsControlWordAndPointersFromTheFourteenByteLayout()
    {
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rsi, Data);
            a.mov(__word_ptr[rsi], 0x027F);        // FCW: precision 53 bits, all masked
            a.mov(__word_ptr[rsi + 2], 0);
            a.mov(__word_ptr[rsi + 4], 0xFFFF);
            a.mov(__word_ptr[rsi + 6], 0x1234);    // FIP offset
            a.mov(__word_ptr[rsi + 8], 0);
            a.mov(__word_ptr[rsi + 10], 0x5678);   // FDP offset
            a.mov(__word_ptr[rsi + 12], 0);
            a.db(0x66, 0xD9, 0x26);              // FLDENV m14byte [rsi]
            a.fnstcw(__word_ptr[rsi + 100]);
            a.hlt();
        });
        using (vm)
        {
            Assert.True(h.Exits[^1].Reason.Basic == ExitReason.Hlt, $"vector {ExceptionVector(h)}");
            Assert.Equal((ushort)0x027F, vm.Memory.Read<ushort>(new GuestPhysicalAddress(Data + 100)));
            Assert.Equal(0x1234UL, vcpu.Processor.FpuInstructionPointer);
            Assert.Equal(0x5678UL, vcpu.Processor.FpuDataPointer);
        }
    }

    [Fact]
    public void FnstswAx_And_FstswAx_CopyTheStatusWordWithConditionCodes()
    {
        // FSTSW AX is an 80287 form (Iced: CpuidFeature.FPU287); compilers use it after FCOM and FPREM.
        var (vcpu, h, vm) = Run(a =>
        {
            a.mov(rax, 0x1111_2222_3333_4444);
            a.fninit();
            a.fld1();
            a.fldz();
            a.fcom(st0, st1); // 0 < 1: C0 = 1
            a.fnstsw(ax);
            a.mov(rbx, rax);
            a.fcompp();      // pops both: TOP back to 0
            a.fstsw(ax);
            a.hlt();
        });
        using (vm)
        {
            Assert.True(h.Exits[^1].Reason.Basic == ExitReason.Hlt, $"vector {ExceptionVector(h)}");
            // TOP = 6 after two loads, C0 set, upper 48 bits of RAX untouched.
            Assert.Equal(0x1111_2222_3333_0000UL | (6u << 11) | 0x100u, vcpu.Registers.Rbx);
            Assert.Equal(0x1111_2222_3333_0000UL | 0x100u, vcpu.Registers.Rax);
        }
    }
}
