using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// Decode-time classification of instructions into <see cref="MicroOp"/>s, and their execution. Only forms whose
/// semantics are simple and whose operands are 32/64-bit registers, immediates or plain 64-bit-addressed memory get a
/// fast kind; everything else (and every corner: non-canonical addresses, LOCK prefixes) takes the general handler.
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
            case Mnemonic.Mov:
                if (IsWideGpr(ins, 0))
                {
                    op.Dst = GprNumber(ins.Op0Register);
                    if (IsWideGpr(ins, 1) && ins.Op1Register.GetSize() == op.Size) { op.Src = GprNumber(ins.Op1Register); return FastKind.MovRR; }
                    if (IsImmediate(ins.Op1Kind)) { op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size); return FastKind.MovRI; }
                    if (ins.Op1Kind == OpKind.Memory && FastMemory(in ins, ref op)) return FastKind.Load;
                    return FastKind.Generic;
                }
                if (ins.Op0Kind == OpKind.Memory && op.Size is 4 or 8 && FastMemory(in ins, ref op))
                {
                    if (IsWideGpr(ins, 1)) { op.Src = GprNumber(ins.Op1Register); return FastKind.Store; }
                    if (IsImmediate(ins.Op1Kind)) { op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size); return FastKind.StoreImm; }
                }
                return FastKind.Generic;
            case Mnemonic.Add: case Mnemonic.Sub: case Mnemonic.And: case Mnemonic.Or: case Mnemonic.Xor:
            case Mnemonic.Cmp: case Mnemonic.Test:
            {
                if (!IsWideGpr(ins, 0)) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                int alu = ins.Mnemonic switch
                {
                    Mnemonic.Add => 0, Mnemonic.Sub => 1, Mnemonic.And => 2, Mnemonic.Or => 3, Mnemonic.Xor => 4, Mnemonic.Cmp => 5, _ => 6,
                };
                if (IsWideGpr(ins, 1) && ins.Op1Register.GetSize() == op.Size)
                {
                    op.Src = GprNumber(ins.Op1Register);
                    return (FastKind)((int)FastKind.Add + alu);
                }
                if (IsImmediate(ins.Op1Kind))
                {
                    op.Immediate = ins.GetImmediate(1) & SizeMask(op.Size);
                    return (FastKind)((int)FastKind.AddI + alu);
                }
                return FastKind.Generic;
            }
            case Mnemonic.Inc: case Mnemonic.Dec:
                if (!IsWideGpr(ins, 0)) return FastKind.Generic;
                op.Dst = GprNumber(ins.Op0Register);
                return ins.Mnemonic == Mnemonic.Inc ? FastKind.Inc : FastKind.Dec;
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
    private ulong FastAddress(ref MicroOp op)
    {
        ulong address = op.Displacement;
        if (op.Base != MicroOp.NoRegister) address += Gpr[op.Base];
        if (op.Index != MicroOp.NoRegister) address += Gpr[op.Index] << op.Scale;
        return address;
    }

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
