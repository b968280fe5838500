using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Dispatch.Vmx;
using Iced.Intel;
using static Dispatch.ControlRegisters;

namespace Dispatch.Execution;

/// <summary>
/// The instructions done in software because they move the interpreter's own state or have implicit memory operands:
/// LDMXCSR, STMXCSR, FXSAVE, FXRSTOR (SDM Vol. 2A), MASKMOVDQU, FWAIT, and the XSAVE family (Processor.Xsave.cs).
/// </summary>
internal sealed partial class Processor
{
    private ExecutionStatus SoftwareSimdInstruction(ref Instruction ins)
    {
        switch (ins.Mnemonic)
        {
            case Mnemonic.Wait:
                if ((Cr0 & (Cr0MP | Cr0TS)) == (Cr0MP | Cr0TS)) RaiseException(ExceptionVector.DeviceNotAvailable);
                if (X87ExceptionPending()) RaiseException(ExceptionVector.FloatingPointError);
                return ExecutionStatus.Continue;
            case Mnemonic.Ldmxcsr:
            {
                CheckSimdAvailable(Simd.SimdKind.Sse, usesMm: false);
                uint value = (uint)ReadMemory(EffectiveAddress(in ins), 4);
                if ((value & ~MxcsrMask) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                Mxcsr = value;
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Stmxcsr:
                CheckSimdAvailable(Simd.SimdKind.Sse, usesMm: false);
                WriteMemory(EffectiveAddress(in ins), 4, Mxcsr);
                return ExecutionStatus.Continue;
            case Mnemonic.Fxsave: case Mnemonic.Fxsave64:
            {
                if ((Cr0 & (Cr0EM | Cr0TS)) != 0) RaiseException(ExceptionVector.DeviceNotAvailable);
                ulong address = EffectiveAddress(in ins);
                if ((address & 15) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                Span<byte> image = stackalloc byte[512];
                // Without CR4.OSFXSR the XMM registers and MXCSR need not be saved; saving them anyway is allowed.
                WriteFxsaveImage(image, Mxcsr, wide: ins.Mnemonic == Mnemonic.Fxsave64);
                WriteBytes(address, image[..416]);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Fxrstor: case Mnemonic.Fxrstor64:
            {
                if ((Cr0 & (Cr0EM | Cr0TS)) != 0) RaiseException(ExceptionVector.DeviceNotAvailable);
                ulong address = EffectiveAddress(in ins);
                if ((address & 15) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                Span<byte> image = stackalloc byte[512];
                ReadBytes(address, image[..416]);
                uint mxcsr = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(image[24..]);
                if ((mxcsr & ~MxcsrMask) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                var savedXmm = Xmm;
                ReadFxsaveImage(image);
                if ((Cr4 & Cr4OSFXSR) == 0) Xmm = savedXmm;
                else Mxcsr = mxcsr;
                ReadX87Pointers(image, wide: ins.Mnemonic == Mnemonic.Fxrstor64);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Xsave: case Mnemonic.Xsave64: case Mnemonic.Xsaveopt: case Mnemonic.Xsaveopt64:
            case Mnemonic.Xsavec: case Mnemonic.Xsavec64: case Mnemonic.Xrstor: case Mnemonic.Xrstor64:
                return XsaveInstruction(ref ins);
            case Mnemonic.Maskmovdqu:
            {
                CheckSimdAvailable(Simd.SimdKind.Sse, usesMm: false);
                // Stores the bytes of the first operand whose mask byte (second operand) has its top bit set, at DS:RDI.
                ulong rdi = ins.MemorySegment == Register.FS ? Fs.Base + Gpr.Rdi : ins.MemorySegment == Register.GS ? Gs.Base + Gpr.Rdi : Gpr.Rdi;
                Vector128<byte> data = Xmm[ins.Op1Register - Register.XMM0], mask = Xmm[ins.Op2Register - Register.XMM0];
                if (!IsCanonical(rdi)) RaiseException(ExceptionVector.GeneralProtection, 0);
                for (int i = 0; i < 16; i++)
                    if ((mask.GetElement(i) & 0x80) != 0) WriteMemory(rdi + (ulong)i, 1, data.GetElement(i));
                return ExecutionStatus.Continue;
            }
        }
        RaiseException(ExceptionVector.InvalidOpcode);
        return ExecutionStatus.Continue;
    }
}
