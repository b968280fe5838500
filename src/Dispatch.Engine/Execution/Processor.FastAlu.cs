using System.Runtime.CompilerServices;

namespace Dispatch.Execution;

/// <summary>
/// The arithmetic behind the fast micro-op kinds: ALU operations by <see cref="AluOperation"/>, shifts and rotates of
/// 32/64-bit registers, truncating IMUL. Flags follow the same rules as the general handlers in Processor.Alu.cs.
/// </summary>
internal sealed partial class Processor
{
    /// <summary>Computes <c>a op b</c> masked to the operand size and records its flags.</summary>
    // Out of line: ADC, SBB and ALU with memory are the rarer kinds; the block loop's inlining budget goes to the others.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong AluWithFlags(AluOperation alu, ulong a, ulong b, ref MicroOp op)
    {
        bool carry = alu is AluOperation.Adc or AluOperation.Sbb && GetCF();
        ulong r = AluValue(alu, a, b, carry) & op.Mask;
        SetAluFlags(alu, a, b, r, carry, ref op);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong AluValue(AluOperation alu, ulong a, ulong b, bool carry) => alu switch
    {
        AluOperation.Add => a + b,
        AluOperation.Sub or AluOperation.Cmp => a - b,
        AluOperation.And or AluOperation.Test => a & b,
        AluOperation.Or => a | b,
        AluOperation.Xor => a ^ b,
        AluOperation.Adc => a + b + (carry ? 1UL : 0),
        _ => a - b - (carry ? 1UL : 0),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetAluFlags(AluOperation alu, ulong a, ulong b, ulong r, bool carry, ref MicroOp op)
    {
        switch (alu)
        {
            case AluOperation.Add: SetLazyFast(LazyFlagOp.Add, a, b, r, ref op); break;
            case AluOperation.Sub: case AluOperation.Cmp: SetLazyFast(LazyFlagOp.Sub, a, b, r, ref op); break;
            case AluOperation.Adc: _flagsCarryIn = carry; SetLazyFast(LazyFlagOp.Adc, a, b, r, ref op); break;
            case AluOperation.Sbb: _flagsCarryIn = carry; SetLazyFast(LazyFlagOp.Sbb, a, b, r, ref op); break;
            default: SetLazyFast(LazyFlagOp.Logic, 0, 0, r, ref op); break;
        }
    }

    /// <summary>SHL by a masked, non-zero count; CF, OF and the result flags are computed when read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ShiftLeft(ref ulong target, int count, ref MicroOp op)
    {
        ulong a = target & op.Mask, r = (a << count) & op.Mask;
        target = r;
        SetLazyFast(LazyFlagOp.Shl, a, (ulong)count, r, ref op);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ShiftRight(ref ulong target, int count, ref MicroOp op)
    {
        ulong a = target & op.Mask, r = a >> count;
        target = r;
        SetLazyFast(LazyFlagOp.Shr, a, (ulong)count, r, ref op);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ShiftArithmetic(ref ulong target, int count, ref MicroOp op)
    {
        int unused = 64 - op.Size * 8;
        ulong a = target & op.Mask, r = (ulong)(((long)(a << unused) >> unused) >> count) & op.Mask;
        target = r;
        SetLazyFast(LazyFlagOp.Sar, a, (ulong)count, r, ref op);
    }

    /// <summary>
    /// ROL by a masked, non-zero count below the width: only CF and OF change, so the others are materialised (out of
    /// line: with the flags live this is slow anyway; dead-flag elimination turns most rotates into RolIPure).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RotateLeft(ref ulong target, int count, ref MicroOp op)
    {
        ulong r = RotateLeftValue(target, count, ref op);
        bool cf = (r & 1) != 0;
        SetRotateFlags(cf, ((r & op.Sign) != 0) ^ cf, MaterializeFlags());
        target = r;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RotateRight(ref ulong target, int count, ref MicroOp op)
    {
        ulong r = RotateRightValue(target, count, ref op);
        SetRotateFlags((r & op.Sign) != 0, ((r ^ (r << 1)) & op.Sign) != 0, MaterializeFlags());
        target = r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RotateLeftValue(ulong value, int count, ref MicroOp op)
    {
        ulong a = value & op.Mask;
        return ((a << count) | (a >> (op.Size * 8 - count))) & op.Mask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RotateRightValue(ulong value, int count, ref MicroOp op)
    {
        ulong a = value & op.Mask;
        return ((a >> count) | (a << (op.Size * 8 - count))) & op.Mask;
    }

    /// <summary>Two- and three-operand IMUL of 32/64-bit values: the truncated product; CF = OF = it did not fit.</summary>
    private ulong MultiplyTruncated(ulong a, ulong b, int size)
    {
        ulong lo;
        bool overflow;
        if (size == 8)
        {
            long hi = Math.BigMul((long)a, (long)b, out long low);
            lo = (ulong)low;
            overflow = hi != (low >> 63);
        }
        else
        {
            long p = (long)(int)a * (int)b;
            lo = (uint)p;
            overflow = p != (int)p;
        }
        SetMultiplyFlags(lo, size, overflow);
        return lo;
    }
}
