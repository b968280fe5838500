using System.Numerics;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>Integer arithmetic, logic, shifts, rotates, multiply and divide with the SDM's flags.</summary>
internal sealed partial class Processor
{
    private ExecutionStatus BinaryArithmetic(ref Instruction ins, int size, Mnemonic m)
    {
        bool memory = ins.Op0Kind == OpKind.Memory;
        ulong address = memory ? EffectiveAddress(in ins) : 0;
        ulong a = memory ? ReadMemory(address, size) : ReadRegister(ins.Op0Register);
        ulong b = ReadOperand(in ins, 1, size);
        if (ins.Op1Kind is OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64)
            b = ins.GetImmediate(1) & SizeMask(size);
        ulong mask = SizeMask(size);
        ulong r;
        LazyFlagOp op;
        switch (m)
        {
            case Mnemonic.Add: r = a + b; op = LazyFlagOp.Add; break;
            case Mnemonic.Sub: case Mnemonic.Cmp: r = a - b; op = LazyFlagOp.Sub; break;
            case Mnemonic.And: case Mnemonic.Test: r = a & b; op = LazyFlagOp.Logic; break;
            case Mnemonic.Or: r = a | b; op = LazyFlagOp.Logic; break;
            case Mnemonic.Xor: r = a ^ b; op = LazyFlagOp.Logic; break;
            case Mnemonic.Adc:
            {
                bool c = GetCF();
                r = a + b + (c ? 1UL : 0);
                SetCarryIn(c);
                op = LazyFlagOp.Adc;
                break;
            }
            default: // Sbb
            {
                bool c = GetCF();
                r = a - b - (c ? 1UL : 0);
                SetCarryIn(c);
                op = LazyFlagOp.Sbb;
                break;
            }
        }
        r &= mask;
        if (m is not (Mnemonic.Cmp or Mnemonic.Test))
        {
            if (memory) WriteMemory(address, size, r);
            else WriteRegister(ins.Op0Register, r);
        }
        SetLazy(op, a, b, r, size);
        return ExecutionStatus.Continue;
    }

    private ExecutionStatus IncDecNegNot(ref Instruction ins, int size, Mnemonic m)
    {
        bool memory = ins.Op0Kind == OpKind.Memory;
        ulong address = memory ? EffectiveAddress(in ins) : 0;
        ulong a = memory ? ReadMemory(address, size) : ReadRegister(ins.Op0Register);
        ulong mask = SizeMask(size);
        ulong r = m switch
        {
            Mnemonic.Inc => (a + 1) & mask,
            Mnemonic.Dec => (a - 1) & mask,
            Mnemonic.Neg => (0 - a) & mask,
            _ => ~a & mask,
        };
        if (memory) WriteMemory(address, size, r);
        else WriteRegister(ins.Op0Register, r);
        switch (m)
        {
            case Mnemonic.Inc: SetLazy(LazyFlagOp.Inc, a, 1, r, size); break;
            case Mnemonic.Dec: SetLazy(LazyFlagOp.Dec, a, 1, r, size); break;
            case Mnemonic.Neg: SetLazy(LazyFlagOp.Sub, 0, a, r, size); break;
        }
        return ExecutionStatus.Continue;
    }

    /// <summary>SHL/SHR/SAR/ROL/ROR/RCL/RCR. Flags per Intel SDM Vol. 2B "SAL/SAR/SHL/SHR" and "RCL/RCR/ROL/ROR".</summary>
    private ExecutionStatus ShiftRotate(ref Instruction ins, int size, Mnemonic m)
    {
        bool memory = ins.Op0Kind == OpKind.Memory;
        ulong address = memory ? EffectiveAddress(in ins) : 0;
        ulong a = memory ? ReadMemory(address, size) : ReadRegister(ins.Op0Register);
        int bits = size * 8;
        int count = (int)(ins.OpCount > 1 ? ReadOperand(in ins, 1, 1) : 1) & (size == 8 ? 63 : 31);
        ulong mask = SizeMask(size), sign = 1UL << (bits - 1);
        if (m is Mnemonic.Rcl or Mnemonic.Rcr) count %= bits + 1;
        if (count == 0) return ZeroCountShift(in ins, size, memory, a);
        Register destination = ins.Op0Register;
        ulong r;
        switch (m)
        {
            case Mnemonic.Shl:
            case Mnemonic.Sal:
                r = (a << count) & mask;
                Store(r);
                SetLazy(LazyFlagOp.Shl, a, (ulong)count, r, size);
                return ExecutionStatus.Continue;
            case Mnemonic.Shr:
                r = a >> count;
                Store(r);
                SetLazy(LazyFlagOp.Shr, a, (ulong)count, r, size);
                return ExecutionStatus.Continue;
            case Mnemonic.Sar:
            {
                long s = (long)(a << (64 - bits)) >> (64 - bits);
                r = (ulong)(s >> count) & mask;
                Store(r);
                SetLazy(LazyFlagOp.Sar, a, (ulong)count, r, size);
                return ExecutionStatus.Continue;
            }
        }
        ulong flags = MaterializeFlags();
        bool cf = (flags & Dispatch.Rflags.CF) != 0, of;
        switch (m)
        {
            case Mnemonic.Rol:
            {
                int c = count % bits;
                r = c == 0 ? a : ((a << c) | (a >> (bits - c))) & mask;
                cf = (r & 1) != 0;
                of = ((r & sign) != 0) ^ cf;
                SetRotateFlags(cf, of, flags);
                break;
            }
            case Mnemonic.Ror:
            {
                int c = count % bits;
                r = c == 0 ? a : ((a >> c) | (a << (bits - c))) & mask;
                cf = (r & sign) != 0;
                of = ((r ^ (r << 1)) & sign) != 0;
                SetRotateFlags(cf, of, flags);
                break;
            }
            case Mnemonic.Rcl:
            {
                r = a;
                for (int i = 0; i < count; i++)
                {
                    bool outBit = (r & sign) != 0;
                    r = ((r << 1) | (cf ? 1UL : 0)) & mask;
                    cf = outBit;
                }
                of = ((r & sign) != 0) ^ cf;
                SetRotateFlags(cf, of, flags);
                break;
            }
            default: // Rcr
            {
                r = a;
                of = ((a & sign) != 0) ^ cf;
                for (int i = 0; i < count; i++)
                {
                    bool outBit = (r & 1) != 0;
                    r = (r >> 1) | (cf ? sign : 0);
                    cf = outBit;
                }
                SetRotateFlags(cf, of, flags);
                break;
            }
        }
        Store(r);
        return ExecutionStatus.Continue;

        // The result is stored before the flags change: a faulting store leaves them as they were.
        void Store(ulong value)
        {
            if (memory) WriteMemory(address, size, value);
            else WriteRegister(destination, value);
        }
    }

    /// <summary>
    /// A shift or rotate whose count is 0 changes no flags and no value, but a 32-bit register destination is still
    /// written, so its upper half is cleared as for any 32-bit operation in 64-bit mode.
    /// </summary>
    private ExecutionStatus ZeroCountShift(in Instruction ins, int size, bool memory, ulong value)
    {
        if (!memory && size == 4) WriteRegister(ins.Op0Register, value);
        return ExecutionStatus.Continue;
    }

    private void SetShiftFlags(ulong r, int size, bool cf, bool of, ulong old)
    {
        ulong f = ResultFlags(r, size) | (cf ? Dispatch.Rflags.CF : 0) | (of ? Dispatch.Rflags.OF : 0);
        // AF is undefined after a shift; real processors leave it as it was on Intel and clear it on some AMD parts.
        f |= old & Dispatch.Rflags.AF;
        SetStatusFlags(f);
    }

    private void SetRotateFlags(bool cf, bool of, ulong old) =>
        SetStatusFlags((old & ~(Dispatch.Rflags.CF | Dispatch.Rflags.OF)) | (cf ? Dispatch.Rflags.CF : 0) | (of ? Dispatch.Rflags.OF : 0));

    /// <summary>ZF, SF and PF of a result.</summary>
    private static ulong ResultFlags(ulong r, int size)
    {
        ulong mask = SizeMask(size);
        ulong f = 0;
        if ((r & mask) == 0) f |= Dispatch.Rflags.ZF;
        if ((r & (1UL << (size * 8 - 1))) != 0) f |= Dispatch.Rflags.SF;
        if ((BitOperations.PopCount(r & 0xFF) & 1) == 0) f |= Dispatch.Rflags.PF;
        return f;
    }

    private ExecutionStatus DoubleShift(ref Instruction ins, int size, bool left)
    {
        bool memory = ins.Op0Kind == OpKind.Memory;
        ulong address = memory ? EffectiveAddress(in ins) : 0;
        ulong a = memory ? ReadMemory(address, size) : ReadRegister(ins.Op0Register);
        ulong b = ReadRegister(ins.Op1Register);
        int bits = size * 8;
        int count = (int)ReadOperand(in ins, 2, 1) & (size == 8 ? 63 : 31);
        if (count == 0) return ZeroCountShift(in ins, size, memory, a);
        ulong mask = SizeMask(size), sign = 1UL << (bits - 1);
        ulong r;
        bool cf;
        if (size == 2 && count > 16)
        {
            // Undefined result for 16-bit operands with counts above 16; compute as the 32-bit concatenation does.
            ulong wide = left ? (a << 16) | b : (b << 16) | a;
            r = left ? (wide << count >> 16) & mask : (wide >> count) & mask;
            cf = left ? ((wide >> (32 - count)) & 1) != 0 : ((wide >> (count - 1)) & 1) != 0;
        }
        else if (left)
        {
            r = ((a << count) | (b >> (bits - count))) & mask;
            cf = ((a >> (bits - count)) & 1) != 0;
        }
        else
        {
            r = ((a >> count) | (b << (bits - count))) & mask;
            cf = ((a >> (count - 1)) & 1) != 0;
        }
        bool of = ((r ^ a) & sign) != 0;
        if (memory) WriteMemory(address, size, r);
        else WriteRegister(ins.Op0Register, r);
        SetShiftFlags(r, size, cf, of, MaterializeFlags());
        return ExecutionStatus.Continue;
    }

    /// <summary>One-operand MUL/IMUL: RDX:RAX = RAX * src. CF = OF = upper half significant; SF, ZF, AF, PF undefined.</summary>
    private ExecutionStatus MultiplyWide(ref Instruction ins, int size, bool signed)
    {
        ulong src = ReadOperand(in ins, 0, size);
        ulong a = Gpr.Rax & SizeMask(size);
        ulong lo, hi;
        bool overflow;
        if (size == 8)
        {
            if (signed)
            {
                Int128 p = (Int128)(long)a * (long)src;
                lo = (ulong)p;
                hi = (ulong)(p >> 64);
                overflow = p != (long)lo;
            }
            else
            {
                hi = Math.BigMul(a, src, out lo);
                overflow = hi != 0;
            }
            Gpr.Rax = lo;
            Gpr.Rdx = hi;
        }
        else
        {
            int bits = size * 8;
            ulong mask = SizeMask(size);
            long sa = SignExtend(a, size), ss = SignExtend(src, size);
            ulong p = signed ? (ulong)(sa * ss) : a * src;
            lo = p & mask;
            hi = (p >> bits) & mask;
            overflow = signed ? (long)p != SignExtend(lo, size) : hi != 0;
            switch (size)
            {
                case 1: Gpr.Rax = (Gpr.Rax & ~0xFFFFUL) | (p & 0xFFFF); break;
                case 2: Gpr.Rax = (Gpr.Rax & ~0xFFFFUL) | lo; Gpr.Rdx = (Gpr.Rdx & ~0xFFFFUL) | hi; break;
                default: Gpr.Rax = lo; Gpr.Rdx = hi; break;
            }
        }
        SetMultiplyFlags(lo, size, overflow);
        return ExecutionStatus.Continue;
    }

    private void SetMultiplyFlags(ulong lo, int size, bool overflow)
    {
        // SF, ZF, AF and PF are undefined after MUL and IMUL; this follows the result as current Intel cores do.
        ulong f = ResultFlags(lo, size) & ~Dispatch.Rflags.ZF;
        if (overflow) f |= Dispatch.Rflags.CF | Dispatch.Rflags.OF;
        SetStatusFlags(f);
    }

    /// <summary>Two- and three-operand IMUL: truncated signed product; CF = OF = the product did not fit.</summary>
    private ExecutionStatus MultiplySigned(ref Instruction ins, int size)
    {
        long a, b;
        if (ins.OpCount == 2)
        {
            a = SignExtend(ReadRegister(ins.Op0Register), size);
            b = SignExtend(ReadOperand(in ins, 1, size), size);
        }
        else
        {
            a = SignExtend(ReadOperand(in ins, 1, size), size);
            b = (long)ins.GetImmediate(2);
            b = SignExtend((ulong)b, size);
        }
        Int128 p = (Int128)a * b;
        ulong lo = (ulong)p & SizeMask(size);
        bool overflow = p != SignExtend(lo, size);
        WriteRegister(ins.Op0Register, lo);
        SetMultiplyFlags(lo, size, overflow);
        return ExecutionStatus.Continue;
    }

    /// <summary>DIV/IDIV: #DE on a zero divisor or a quotient that does not fit. All flags undefined (left unchanged).</summary>
    private ExecutionStatus Divide(ref Instruction ins, int size, bool signed)
    {
        ulong divisor = ReadOperand(in ins, 0, size);
        if (divisor == 0) RaiseException(ExceptionVector.DivideError);
        int bits = size * 8;
        ulong mask = SizeMask(size);
        ulong quotient, remainder;
        if (size == 1)
        {
            ulong dividend = Gpr.Rax & 0xFFFF;
            if (!DivideCore(dividend, 0, divisor, size, signed, out quotient, out remainder)) RaiseException(ExceptionVector.DivideError);
            Gpr.Rax = (Gpr.Rax & ~0xFFFFUL) | (quotient & 0xFF) | ((remainder & 0xFF) << 8);
            return ExecutionStatus.Continue;
        }
        ulong lo = Gpr.Rax & mask, hi = Gpr.Rdx & mask;
        ulong dividendLow = size == 8 ? lo : lo | (hi << bits);
        ulong dividendHigh = size == 8 ? hi : 0;
        if (!DivideCore(dividendLow, dividendHigh, divisor, size, signed, out quotient, out remainder)) RaiseException(ExceptionVector.DivideError);
        if (size == 2)
        {
            Gpr.Rax = (Gpr.Rax & ~0xFFFFUL) | quotient;
            Gpr.Rdx = (Gpr.Rdx & ~0xFFFFUL) | remainder;
        }
        else
        {
            Gpr.Rax = quotient & mask;
            Gpr.Rdx = remainder & mask;
        }
        return ExecutionStatus.Continue;
    }

    /// <summary>Divides a 2*size-bit dividend; false when the quotient overflows the operand size.</summary>
    private static bool DivideCore(ulong low, ulong high, ulong divisor, int size, bool signed, out ulong quotient, out ulong remainder)
    {
        int bits = size * 8;
        if (!signed)
        {
            UInt128 dividend = size == 8 ? new UInt128(high, low) : low;
            UInt128 q = dividend / divisor;
            remainder = (ulong)(dividend % divisor);
            quotient = (ulong)q;
            return q <= SizeMask(size);
        }
        Int128 sd = size == 8 ? (Int128)new UInt128(high, low) : SignExtend(low, size * 2);
        long sv = SignExtend(divisor, size);
        Int128 sq = sd / sv;
        Int128 sr = sd % sv;
        long min = -(1L << (bits - 1)), max = bits == 64 ? long.MaxValue : (1L << (bits - 1)) - 1;
        quotient = (ulong)(long)sq & SizeMask(size);
        remainder = (ulong)(long)sr & SizeMask(size);
        return sq >= min && sq <= max;
    }

    internal static long SignExtend(ulong value, int size) => size switch
    {
        1 => (sbyte)value,
        2 => (short)value,
        4 => (int)value,
        _ => (long)value,
    };
}
