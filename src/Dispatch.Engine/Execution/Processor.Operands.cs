using System.Runtime.CompilerServices;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>Operand access: general-purpose registers by Iced register, effective addresses, memory and immediates.</summary>
internal sealed partial class Processor
{
    private static readonly byte[] s_gprIndex = new byte[256];
    private static readonly byte[] s_gprSize = new byte[256];
    private static readonly bool[] s_highByte = new bool[256];

    static Processor()
    {
        foreach (Register r in Enum.GetValues<Register>())
        {
            if (!r.IsGPR() || (int)r >= 256) continue;
            var full = r.GetFullRegister();
            s_gprIndex[(int)r] = (byte)(full - Register.RAX);
            s_gprSize[(int)r] = (byte)r.GetSize();
            if (r is Register.AH or Register.CH or Register.DH or Register.BH)
            {
                s_highByte[(int)r] = true;
                s_gprIndex[(int)r] = (byte)(r - Register.AH);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadRegister(Register r)
    {
        int i = (int)r;
        ulong v = Gpr[s_gprIndex[i]];
        return s_gprSize[i] switch
        {
            8 => v,
            4 => (uint)v,
            2 => (ushort)v,
            _ => s_highByte[i] ? (byte)(v >> 8) : (byte)v,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteRegister(Register r, ulong value)
    {
        int i = (int)r;
        ref ulong target = ref Gpr[s_gprIndex[i]];
        switch (s_gprSize[i])
        {
            case 8: target = value; break;
            case 4: target = (uint)value; break;
            case 2: target = (target & ~0xFFFFUL) | (ushort)value; break;
            default:
                if (s_highByte[i]) target = (target & ~0xFF00UL) | ((ulong)(byte)value << 8);
                else target = (target & ~0xFFUL) | (byte)value;
                break;
        }
    }

    /// <summary>
    /// The linear address of the memory operand (64-bit mode: only FS and GS have a base); a non-canonical address raises
    /// #SS for RSP/RBP-based operands and #GP otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong EffectiveAddress(in Instruction ins)
    {
        ulong address = LinearAddress(in ins);
        if (!IsCanonical(address))
            RaiseException(ins.MemoryBase is Register.RSP or Register.RBP ? ExceptionVector.StackFault : ExceptionVector.GeneralProtection, 0);
        return address;
    }

    /// <summary>The linear address of the memory operand without the canonical check (INVLPG takes any address).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong LinearAddress(in Instruction ins)
    {
        ulong address = ins.IsIPRelativeMemoryOperand ? ins.IPRelativeMemoryAddress : RawEffectiveAddress(in ins);
        var segment = ins.MemorySegment;
        if (segment == Register.FS) address += Fs.Base;
        else if (segment == Register.GS) address += Gs.Base;
        return address;
    }

    /// <summary>Base + index * scale + displacement, without segment base or canonical check (what LEA computes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong RawEffectiveAddress(in Instruction ins)
    {
        ulong address = ins.MemoryDisplacement64;
        var b = ins.MemoryBase;
        if (b != Register.None) address += ReadRegister(b);
        var x = ins.MemoryIndex;
        if (x != Register.None) address += ReadRegister(x) * (ulong)ins.MemoryIndexScale;
        // An address-size prefix makes the registers 32-bit and the sum wraps at 4 GiB.
        if ((b != Register.None && b.GetSize() == 4) || (x != Register.None && x.GetSize() == 4)) address = (uint)address;
        return address;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadOperand(in Instruction ins, int operand, int size)
    {
        switch (ins.GetOpKind(operand))
        {
            case OpKind.Register: return ReadRegister(ins.GetOpRegister(operand));
            case OpKind.Memory: return ReadMemory(EffectiveAddress(in ins), size);
            default: return ins.GetImmediate(operand) & SizeMask(size);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteOperand(in Instruction ins, int operand, int size, ulong value)
    {
        if (ins.GetOpKind(operand) == OpKind.Register) WriteRegister(ins.GetOpRegister(operand), value);
        else WriteMemory(EffectiveAddress(in ins), size, value);
    }

    /// <summary>Size in bytes of an operand other than the first.</summary>
    internal static int SizeOf(in Instruction ins, int operand) => ins.GetOpKind(operand) switch
    {
        OpKind.Register => ins.GetOpRegister(operand).GetSize(),
        OpKind.Memory => ins.MemorySize.GetSize(),
        OpKind.Immediate8 or OpKind.Immediate8_2nd => 1,
        OpKind.Immediate16 => 2,
        OpKind.Immediate32 => 4,
        _ => 8,
    };
}
