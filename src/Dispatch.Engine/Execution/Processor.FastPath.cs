using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// Decode-time classification of instructions into <see cref="MicroOp"/>s, and their execution. Forms whose register
/// operands are 32/64-bit (or low byte/word registers where a kind says so), with immediates or plain 64-bit-addressed
/// memory (no FS/GS override), get a fast kind; everything else (and every corner: non-canonical addresses, LOCK
/// prefixes, high byte registers, shifts by an immediate 0) takes the general handler. Memory accesses of fast kinds
/// go through the same TLB, page walk, EPT and MMIO path as the general handlers.
/// </summary>
internal sealed partial class Processor
{
    private static MicroOp Compile(in Instruction ins)
    {
        var op = new MicroOp
        {
            Kind = FastKind.Generic,
            Size = (byte)OperandSize(in ins),
            Ip = ins.IP,
            NextIp = ins.NextIP,
            Length = ins.Length,
            Dst = MicroOp.NoRegister,
            Src = MicroOp.NoRegister,
            Base = MicroOp.NoRegister,
            Index = MicroOp.NoRegister,
        };
        if (ins.HasLockPrefix || ins.HasRepPrefix || ins.HasRepnePrefix) return op;
        FastKind kind = Classify(in ins, ref op);
        if (kind == FastKind.Generic) return op;
        op.Kind = kind;
        op.Mask = SizeMask(op.Size);
        op.Sign = 1UL << (op.Size * 8 - 1);
        return op;
    }

    private static FastKind Classify(in Instruction ins, ref MicroOp op)
    {
        switch (ins.Mnemonic)
        {
            case Mnemonic.Nop:
            case Mnemonic.Endbr64:
                return FastKind.Nop;
            // In VMX non-root operation these exit whatever the controls (Intel SDM Vol. 3C, 26.1.2), before any other check.
            case Mnemonic.Cpuid:
                op.Immediate = (ulong)Dispatch.Vmx.ExitReason.Cpuid;
                return FastKind.UnconditionalExit;
            case Mnemonic.Vmcall:
                op.Immediate = (ulong)Dispatch.Vmx.ExitReason.Vmcall;
                return FastKind.UnconditionalExit;
            case Mnemonic.Mov:
                if (IsWideGpr(ins, 0))
                {
                    op.Dst = GprNumber(ins.Op0Register);
                    if (IsWideGpr(ins, 1) && ins.Op1Register.GetSize() == op.Size) { op.Src = GprNumber(ins.Op1Register); return FastKind.MovRR; }
                    if (IsImmediate(ins.Op1Kind)) { op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size); return FastKind.MovRI; }
                    if (ins.Op1Kind == OpKind.Memory && FastMemory(in ins, ref op)) return FastKind.Load;
                    return FastKind.Generic;
                }
                if (ins.Op0Kind == OpKind.Memory && FastMemory(in ins, ref op))
                {
                    if (IsLowGpr(ins, 1)) { op.Src = GprNumber(ins.Op1Register); return FastKind.Store; }
                    if (IsImmediate(ins.Op1Kind)) { op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size); return FastKind.StoreImm; }
                }
                return FastKind.Generic;
            case Mnemonic.Add: case Mnemonic.Sub: case Mnemonic.And: case Mnemonic.Or: case Mnemonic.Xor:
            case Mnemonic.Cmp: case Mnemonic.Test: case Mnemonic.Adc: case Mnemonic.Sbb:
                return ClassifyAlu(in ins, ref op);
            case Mnemonic.Inc: case Mnemonic.Dec: case Mnemonic.Not: case Mnemonic.Neg:
                if (!IsWideGpr(ins, 0)) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                return ins.Mnemonic switch
                {
                    Mnemonic.Inc => FastKind.Inc,
                    Mnemonic.Dec => FastKind.Dec,
                    Mnemonic.Not => FastKind.Not,
                    _ => FastKind.Neg,
                };
            case Mnemonic.Shl: case Mnemonic.Sal: case Mnemonic.Shr: case Mnemonic.Sar: case Mnemonic.Rol: case Mnemonic.Ror:
                return ClassifyShift(in ins, ref op);
            case Mnemonic.Movzx: case Mnemonic.Movsx: case Mnemonic.Movsxd:
                return ClassifyExtend(in ins, ref op);
            case Mnemonic.Imul:
                if (ins.OpCount == 1 || !IsWideGpr(ins, 0) || !IsWideGpr(ins, 1)) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                op.Src = GprNumber(ins.Op1Register);
                if (ins.OpCount == 2) return FastKind.Imul;
                op.Immediate = ins.GetImmediate(2);
                return FastKind.ImulI;
            case Mnemonic.Bswap:
                if (!IsWideGpr(ins, 0)) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                return FastKind.Bswap;
            case Mnemonic.Lea:
                if (!IsWideGpr(ins, 0) || !FastMemory(in ins, ref op)) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                return FastKind.Lea;
            case Mnemonic.Push:
                if (ins.Code != Code.Push_r64) return FastKind.Generic;
                op.Src = GprNumber(ins.Op0Register);
                op.Size = 8;
                return FastKind.Push;
            case Mnemonic.Pop:
                if (ins.Code != Code.Pop_r64) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                op.Size = 8;
                return FastKind.Pop;
            case Mnemonic.Ret:
                if (ins.Code != Code.Retnq) return FastKind.Generic;
                op.Size = 8;
                return FastKind.Ret;
        }
        if (ins.Code >= Code.Seto_rm8 && ins.Code <= Code.Setg_rm8 && IsLowGpr(ins, 0) && ins.Op0Register.GetSize() == 1)
        {
            op.Dst = GprNumber(ins.Op0Register);
            op.Condition = ins.ConditionCode;
            return FastKind.Setcc;
        }
        if (ins.Code >= Code.Cmovo_r16_rm16 && ins.Code <= Code.Cmovg_r64_rm64 && IsWideGpr(ins, 0))
        {
            op.Dst = GprNumber(ins.Op0Register);
            op.Condition = ins.ConditionCode;
            if (IsWideGpr(ins, 1)) { op.Src = GprNumber(ins.Op1Register); return FastKind.Cmov; }
            if (ins.Op1Kind == OpKind.Memory && FastMemory(in ins, ref op)) return FastKind.CmovLoad;
            return FastKind.Generic;
        }
        if (ins.Op0Kind == OpKind.NearBranch64)
        {
            op.Immediate = ins.NearBranch64;
            op.Size = 8;
            if (ins.IsJccShortOrNear) { op.Condition = ins.ConditionCode; return FastKind.Jcc; }
            if (ins.IsJmpShortOrNear) return FastKind.Jmp;
            if (ins.IsCallNear) return FastKind.Call;
        }
        return FastKind.Generic;
    }

    private static bool IsWideGpr(in Instruction ins, int operand)
    {
        if (ins.GetOpKind(operand) != OpKind.Register) return false;
        var r = ins.GetOpRegister(operand);
        return r.IsGPR32() || r.IsGPR64();
    }

    /// <summary>A general register whose value sits in the low bits of its full register (not AH, CH, DH or BH).</summary>
    private static bool IsLowGpr(in Instruction ins, int operand)
    {
        if (ins.GetOpKind(operand) != OpKind.Register) return false;
        var r = ins.GetOpRegister(operand);
        return r.IsGPR() && r is not (Register.AH or Register.CH or Register.DH or Register.BH);
    }

    private static FastKind ClassifyAlu(in Instruction ins, ref MicroOp op)
    {
        var alu = ins.Mnemonic switch
        {
            Mnemonic.Add => AluOperation.Add, Mnemonic.Sub => AluOperation.Sub, Mnemonic.And => AluOperation.And,
            Mnemonic.Or => AluOperation.Or, Mnemonic.Xor => AluOperation.Xor, Mnemonic.Cmp => AluOperation.Cmp,
            Mnemonic.Test => AluOperation.Test, Mnemonic.Adc => AluOperation.Adc, _ => AluOperation.Sbb,
        };
        op.Alu = alu;
        bool carry = alu is AluOperation.Adc or AluOperation.Sbb;
        if (ins.Op0Kind == OpKind.Memory)
        {
            // Memory op= register or immediate, any operand size (the value is read and written at that size).
            if (!FastMemory(in ins, ref op)) return FastKind.Generic;
            if (IsImmediate(ins.Op1Kind)) { op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size); return FastKind.AluMem; }
            if (IsLowGpr(ins, 1)) { op.Src = GprNumber(ins.Op1Register); return FastKind.AluMem; }
            return FastKind.Generic;
        }
        if (!IsWideGpr(ins, 0)) return FastKind.Generic;
        op.Dst = GprNumber(ins.Op0Register);
        if (IsWideGpr(ins, 1) && ins.Op1Register.GetSize() == op.Size)
        {
            op.Src = GprNumber(ins.Op1Register);
            return carry ? FastKind.AluRR : (FastKind)((int)FastKind.Add + (int)alu);
        }
        if (IsImmediate(ins.Op1Kind))
        {
            op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size);
            return carry ? FastKind.AluRI : (FastKind)((int)FastKind.AddI + (int)alu);
        }
        if (ins.Op1Kind == OpKind.Memory && FastMemory(in ins, ref op)) return FastKind.AluLoad;
        return FastKind.Generic;
    }

    /// <summary>SHL/SHR/SAR/ROL/ROR of a 32- or 64-bit register by an immediate or CL.</summary>
    private static FastKind ClassifyShift(in Instruction ins, ref MicroOp op)
    {
        if (!IsWideGpr(ins, 0)) return FastKind.Generic;
        op.Dst = GprNumber(ins.Op0Register);
        int shape = ins.Mnemonic switch
        {
            Mnemonic.Shl or Mnemonic.Sal => 0, Mnemonic.Shr => 1, Mnemonic.Sar => 2, Mnemonic.Rol => 3, _ => 4,
        };
        if (ins.Op1Kind == OpKind.Register && ins.Op1Register == Register.CL) return (FastKind)((int)FastKind.ShlCl + shape);
        if (!IsImmediate(ins.Op1Kind)) return FastKind.Generic;
        // The count is masked to 5 bits (6 for 64-bit operands); a zero count writes no flags and is left to the general path.
        ulong count = ins.GetImmediate(1) & (op.Size == 8 ? 63UL : 31UL);
        if (count == 0) return FastKind.Generic;
        op.Immediate = count;
        return (FastKind)((int)FastKind.ShlI + shape);
    }

    /// <summary>MOVZX/MOVSX/MOVSXD into a 32- or 64-bit register from a low register or memory.</summary>
    private static FastKind ClassifyExtend(in Instruction ins, ref MicroOp op)
    {
        if (!IsWideGpr(ins, 0)) return FastKind.Generic;
        op.Dst = GprNumber(ins.Op0Register);
        bool signed = ins.Mnemonic != Mnemonic.Movzx;
        int sourceSize = SizeOf(in ins, 1);
        if (sourceSize is not (1 or 2 or 4)) return FastKind.Generic;
        op.SourceSize = (byte)sourceSize;
        op.ExtendShift = (byte)(64 - sourceSize * 8);
        if (IsLowGpr(ins, 1)) { op.Src = GprNumber(ins.Op1Register); return signed ? FastKind.Movsx : FastKind.Movzx; }
        if (ins.Op1Kind == OpKind.Memory && FastMemory(in ins, ref op)) return signed ? FastKind.MovsxLoad : FastKind.MovzxLoad;
        return FastKind.Generic;
    }

    private static bool IsImmediate(OpKind kind) => kind is OpKind.Immediate8 or OpKind.Immediate32 or OpKind.Immediate64
        or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64;

    private static byte GprNumber(Register r) => (byte)(r.GetFullRegister() - Register.RAX);

    /// <summary>Fills the address fields for a memory operand the fast path can compute; false for anything unusual.</summary>
    private static bool FastMemory(in Instruction ins, ref MicroOp op)
    {
        if (ins.MemorySegment is Register.FS or Register.GS) return false;
        if (ins.IsIPRelativeMemoryOperand)
        {
            op.Displacement = ins.IPRelativeMemoryAddress;
            return true;
        }
        var b = ins.MemoryBase;
        var x = ins.MemoryIndex;
        if (b != Register.None && !b.IsGPR64()) return false;
        if (x != Register.None && !x.IsGPR64()) return false;
        op.Displacement = ins.MemoryDisplacement64;
        if (b != Register.None) op.Base = GprNumber(b);
        if (x != Register.None)
        {
            op.Index = GprNumber(x);
            op.Scale = (byte)System.Numerics.BitOperations.Log2((uint)ins.MemoryIndexScale);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong FastAddress(Span<ulong> gpr, ref MicroOp op)
    {
        ulong address = op.Displacement;
        if (op.Base != MicroOp.NoRegister) address += gpr[op.Base];
        if (op.Index != MicroOp.NoRegister) address += gpr[op.Index] << op.Scale;
        return address;
    }

    /// <summary>
    /// <see cref="Condition"/> as a call, for the rarer SETcc and CMOVcc in the block loop: the jump keeps the inlined
    /// copy, and the JIT's inlining budget for the loop goes to the hot kinds.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ConditionOutOfLine(ConditionCode cc) => Condition(cc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetLazyFast(LazyFlagOp kind, ulong a, ulong b, ulong result, ref MicroOp op)
    {
        _lazyOp = kind;
        _lazyA = a;
        _lazyB = b;
        _lazyResult = result;
        _lazyMask = op.Mask;
        _lazySign = op.Sign;
    }
}
