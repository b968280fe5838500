using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Dispatch.Execution;

/// <summary>
/// The x87 register stack beside the control, status and tag words of <see cref="Processor"/>, and the FXSAVE image
/// (Intel SDM Vol. 1, 10.5.1, Table 10-2) that moves the whole x87/SSE state in and out.
/// </summary>
internal sealed partial class Processor
{
    /// <summary>Physical registers R0-R7 (ST(i) is R[(TOP + i) mod 8]).</summary>
    internal X87Registers FpuRegisters;

    /// <summary>Last x87 non-control instruction: opcode (11 bits), linear instruction and data pointers.</summary>
    internal ushort FpuOpcode;
    internal ulong FpuInstructionPointer, FpuDataPointer;

    internal const uint MxcsrMask = 0xFFFF;

    internal int FpuTop => (FpuStatusWord >> 11) & 7;

    /// <summary>Writes bytes 0-415 of the FXSAVE image; 64-bit pointer format when <paramref name="wide"/> (REX.W).</summary>
    internal void WriteFxsaveImage(Span<byte> image, uint mxcsr, bool wide)
    {
        image[..416].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(image, FpuControlWord);
        BinaryPrimitives.WriteUInt16LittleEndian(image[2..], FpuStatusWord);
        byte abridged = 0;
        for (int i = 0; i < 8; i++)
            if (((FpuTagWord >> (2 * i)) & 3) != 3) abridged |= (byte)(1 << i);
        image[4] = abridged;
        BinaryPrimitives.WriteUInt16LittleEndian(image[6..], FpuOpcode);
        if (wide)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(image[8..], FpuInstructionPointer);
            BinaryPrimitives.WriteUInt64LittleEndian(image[16..], FpuDataPointer);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(image[8..], (uint)FpuInstructionPointer);
            BinaryPrimitives.WriteUInt32LittleEndian(image[16..], (uint)FpuDataPointer);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(image[24..], mxcsr);
        BinaryPrimitives.WriteUInt32LittleEndian(image[28..], MxcsrMask);
        int top = FpuTop;
        for (int i = 0; i < 8; i++)
        {
            ref var r = ref FpuRegisters[(top + i) & 7];
            BinaryPrimitives.WriteUInt64LittleEndian(image[(32 + 16 * i)..], r.Significand);
            BinaryPrimitives.WriteUInt16LittleEndian(image[(40 + 16 * i)..], r.SignExponent);
        }
        for (int i = 0; i < 16; i++) Unsafe.WriteUnaligned(ref image[160 + 16 * i], Xmm[i]);
    }

    /// <summary>Loads the x87 and XMM state from an FXSAVE image (MXCSR and the pointers are the caller's business).</summary>
    internal void ReadFxsaveImage(ReadOnlySpan<byte> image)
    {
        ReadX87Image(image);
        ReadXmmImage(image);
    }

    /// <summary>Loads XMM0-XMM15 from bytes 415:160 of an FXSAVE image (also the SSE component of an XSAVE area).</summary>
    internal void ReadXmmImage(ReadOnlySpan<byte> image)
    {
        for (int i = 0; i < 16; i++) Xmm[i] = Unsafe.ReadUnaligned<System.Runtime.Intrinsics.Vector128<byte>>(ref Unsafe.AsRef(in image[160 + 16 * i]));
    }

    /// <summary>
    /// Loads FOP, FIP and FDP from an FXSAVE image as FXRSTOR does: 64-bit pointers when <paramref name="wide"/> (REX.W),
    /// else the 32-bit offsets.
    /// </summary>
    internal void ReadX87Pointers(ReadOnlySpan<byte> image, bool wide)
    {
        FpuOpcode = BinaryPrimitives.ReadUInt16LittleEndian(image[6..]);
        FpuInstructionPointer = wide ? BinaryPrimitives.ReadUInt64LittleEndian(image[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(image[8..]);
        FpuDataPointer = wide ? BinaryPrimitives.ReadUInt64LittleEndian(image[16..]) : BinaryPrimitives.ReadUInt32LittleEndian(image[16..]);
    }

    /// <summary>Loads the control, status and tag words and ST0-ST7 from an FXSAVE image (not the pointers, not MXCSR).</summary>
    internal void ReadX87Image(ReadOnlySpan<byte> image)
    {
        FpuControlWord = BinaryPrimitives.ReadUInt16LittleEndian(image);
        FpuStatusWord = BinaryPrimitives.ReadUInt16LittleEndian(image[2..]);
        int top = FpuTop;
        for (int i = 0; i < 8; i++)
        {
            ref var r = ref FpuRegisters[(top + i) & 7];
            r.Significand = BinaryPrimitives.ReadUInt64LittleEndian(image[(32 + 16 * i)..]);
            r.SignExponent = BinaryPrimitives.ReadUInt16LittleEndian(image[(40 + 16 * i)..]);
        }
        byte abridged = image[4];
        ushort tags = 0;
        for (int i = 0; i < 8; i++)
        {
            int tag = (abridged & (1 << i)) == 0 ? 3 : FullTag(in FpuRegisters[i]);
            tags |= (ushort)(tag << (2 * i));
        }
        FpuTagWord = tags;
    }

    /// <summary>The two-bit tag of a non-empty register from its contents (SDM Vol. 1, Table 10-2 notes): 0 valid, 1 zero, 2 special.</summary>
    private static int FullTag(in Float80 r)
    {
        int exponent = r.SignExponent & 0x7FFF;
        if (exponent == 0x7FFF) return 2;
        if (exponent == 0) return r.Significand == 0 ? 1 : 2;
        return (r.Significand >> 63) == 0 ? 2 : 0;
    }

    /// <summary>FNINIT's state (SDM Vol. 1, Table 8-10).</summary>
    internal void ResetFpu()
    {
        FpuControlWord = 0x37F;
        FpuStatusWord = 0;
        FpuTagWord = 0xFFFF;
        FpuOpcode = 0;
        FpuInstructionPointer = 0;
        FpuDataPointer = 0;
    }

    /// <summary>The x87 state component's initial configuration (SDM Vol. 1, 13.6): FNINIT's state with ST0-ST7 zero.</summary>
    internal void InitializeX87State()
    {
        ResetFpu();
        for (int i = 0; i < 8; i++) FpuRegisters[i] = default;
    }

    /// <summary>Whether the x87 state is in its initial configuration (<see cref="InitializeX87State"/>'s result).</summary>
    internal bool X87StateIsInitial()
    {
        if (FpuControlWord != 0x37F || FpuStatusWord != 0 || FpuTagWord != 0xFFFF || FpuOpcode != 0
            || FpuInstructionPointer != 0 || FpuDataPointer != 0)
            return false;
        for (int i = 0; i < 8; i++)
            if (FpuRegisters[i].Significand != 0 || FpuRegisters[i].SignExponent != 0) return false;
        return true;
    }

    [InlineArray(8)]
    internal struct X87Registers
    {
        private Float80 _element;
    }

    /// <summary>An 80-bit register: 64-bit significand with explicit integer bit, sign and 15-bit exponent.</summary>
    internal struct Float80
    {
        public ulong Significand;
        public ushort SignExponent;
    }
}
