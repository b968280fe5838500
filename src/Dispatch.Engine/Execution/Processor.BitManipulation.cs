using System.Numerics;
using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>BMI1 and BMI2 (Intel SDM Vol. 2, ANDN ... SHRX), computed in portable code with the SDM's flags.</summary>
internal sealed partial class Processor
{
    private ExecutionStatus BitManipulation(ref Instruction ins, int size)
    {
        int bits = size * 8;
        ulong mask = SizeMask(size);
        ulong old = MaterializeFlags() & ~Dispatch.Rflags.Status;
        switch (ins.Mnemonic)
        {
            case Mnemonic.Andn:
            {
                ulong r = ~ReadRegister(ins.Op1Register) & ReadOperand(in ins, 2, size) & mask;
                WriteRegister(ins.Op0Register, r);
                SetStatusFlags(old | (ResultFlags(r, size) & (Dispatch.Rflags.ZF | Dispatch.Rflags.SF)));
                break;
            }
            case Mnemonic.Bextr:
            {
                ulong src = ReadOperand(in ins, 1, size), control = ReadRegister(ins.Op2Register);
                int start = (int)(control & 0xFF), length = (int)((control >> 8) & 0xFF);
                ulong r = start >= bits ? 0 : src >> start;
                if (length < 64) r &= (1UL << length) - 1;
                r &= mask;
                WriteRegister(ins.Op0Register, r);
                SetStatusFlags(old | (r == 0 ? Dispatch.Rflags.ZF : 0));
                break;
            }
            case Mnemonic.Blsi: case Mnemonic.Blsmsk: case Mnemonic.Blsr:
            {
                ulong src = ReadOperand(in ins, 1, size);
                ulong r = ins.Mnemonic switch
                {
                    Mnemonic.Blsi => (0 - src) & src,
                    Mnemonic.Blsmsk => (src - 1) ^ src,
                    _ => (src - 1) & src,
                } & mask;
                WriteRegister(ins.Op0Register, r);
                bool cf = ins.Mnemonic == Mnemonic.Blsi ? src != 0 : src == 0;
                ulong f = ResultFlags(r, size) & (Dispatch.Rflags.ZF | Dispatch.Rflags.SF);
                if (ins.Mnemonic == Mnemonic.Blsmsk) f &= ~Dispatch.Rflags.ZF;
                SetStatusFlags(old | f | (cf ? Dispatch.Rflags.CF : 0));
                break;
            }
            case Mnemonic.Bzhi:
            {
                ulong src = ReadOperand(in ins, 1, size);
                int n = (int)(ReadRegister(ins.Op2Register) & 0xFF);
                ulong r = n >= bits ? src : src & ((1UL << n) - 1);
                r &= mask;
                WriteRegister(ins.Op0Register, r);
                SetStatusFlags(old | (ResultFlags(r, size) & (Dispatch.Rflags.ZF | Dispatch.Rflags.SF)) | (n > bits - 1 ? Dispatch.Rflags.CF : 0));
                break;
            }
            case Mnemonic.Pdep: case Mnemonic.Pext:
            {
                ulong src = ReadRegister(ins.Op1Register), selector = ReadOperand(in ins, 2, size);
                ulong r = ins.Mnemonic == Mnemonic.Pdep ? Deposit(src, selector) : Extract(src, selector);
                WriteRegister(ins.Op0Register, r & mask);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Rorx:
            {
                ulong src = ReadOperand(in ins, 1, size);
                int c = (int)(ins.GetImmediate(2) & (ulong)(bits - 1));
                ulong r = c == 0 ? src : ((src >> c) | (src << (bits - c))) & mask;
                WriteRegister(ins.Op0Register, r);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Sarx: case Mnemonic.Shlx: case Mnemonic.Shrx:
            {
                ulong src = ReadOperand(in ins, 1, size);
                int c = (int)(ReadRegister(ins.Op2Register) & (ulong)(bits - 1));
                ulong r = ins.Mnemonic switch
                {
                    Mnemonic.Shlx => src << c,
                    Mnemonic.Shrx => src >> c,
                    _ => (ulong)(SignExtend(src, size) >> c),
                } & mask;
                WriteRegister(ins.Op0Register, r);
                return ExecutionStatus.Continue;
            }
            default: // Mulx: RDX * src -> op0 (high), op1 (low); flags unaffected.
            {
                ulong a = Gpr.Rdx & mask, b = ReadOperand(in ins, 2, size);
                ulong hi, lo;
                if (size == 8) hi = Math.BigMul(a, b, out lo);
                else { ulong p = a * b; lo = (uint)p; hi = p >> 32; }
                WriteRegister(ins.Op1Register, lo);
                WriteRegister(ins.Op0Register, hi);
                return ExecutionStatus.Continue;
            }
        }
        return ExecutionStatus.Continue;
    }

    private static ulong Deposit(ulong source, ulong mask)
    {
        ulong result = 0;
        for (ulong bit = 1; mask != 0; bit <<= 1)
        {
            ulong lowest = mask & (0 - mask);
            if ((source & bit) != 0) result |= lowest;
            mask &= mask - 1;
        }
        return result;
    }

    private static ulong Extract(ulong source, ulong mask)
    {
        ulong result = 0;
        for (ulong bit = 1; mask != 0; bit <<= 1)
        {
            ulong lowest = mask & (0 - mask);
            if ((source & lowest) != 0) result |= bit;
            mask &= mask - 1;
        }
        return result;
    }
}
