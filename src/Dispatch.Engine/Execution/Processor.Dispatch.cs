using System.Numerics;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// One instruction: a <c>switch</c> over Iced's mnemonic (dense, so a jump table) to the handler of that instruction group.
/// On entry RIP already points past the instruction; handlers that transfer control overwrite it. Anything not implemented
/// raises #UD in the guest, never a host exception.
/// </summary>
internal sealed partial class Processor
{
    private ExecutionStatus ExecuteInstruction(ref Instruction ins, int size)
    {
        // LOCK (and XCHG with a memory operand, which locks implicitly) makes the whole read-modify-write atomic with
        // respect to the other vCPUs' locked operations. The decoder has already turned LOCK on anything that cannot
        // take it into an invalid instruction (#UD).
        if (ins.HasLockPrefix || (ins.Mnemonic == Mnemonic.Xchg && (ins.Op0Kind == OpKind.Memory || ins.Op1Kind == OpKind.Memory)))
        {
            // Aligned operands in RAM use host atomics (Processor.Atomics.cs); the rest serialise on one lock.
            if (TryExecuteAtomic(ref ins, size)) return ExecutionStatus.Continue;
            lock (s_lockedOperations) return ExecuteUnlocked(ref ins, size);
        }
        return ExecuteUnlocked(ref ins, size);
    }

    private ExecutionStatus ExecuteUnlocked(ref Instruction ins, int size)
    {
        switch (ins.Mnemonic)
        {
            case Mnemonic.Mov:
                if ((ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister())
                    || (ins.Op1Kind == OpKind.Register && ins.Op1Register.IsSegmentRegister()))
                    return MoveSegment(ref ins, size);
                if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsGPR())
                {
                    if (ins.Op1Kind == OpKind.Register && ins.Op1Register.IsGPR()) WriteRegister(ins.Op0Register, ReadRegister(ins.Op1Register));
                    else if (ins.Op1Kind == OpKind.Register) return MoveFromSpecialRegister(ref ins);
                    else WriteRegister(ins.Op0Register, ReadOperand(in ins, 1, size));
                    return ExecutionStatus.Continue;
                }
                if (ins.Op0Kind == OpKind.Register) return MoveToSpecialRegister(ref ins);
                if (ins.Op1Kind == OpKind.Register && !ins.Op1Register.IsGPR()) return MoveFromSpecialRegister(ref ins);
                WriteOperand(in ins, 0, size, ReadOperand(in ins, 1, size));
                return ExecutionStatus.Continue;
            case Mnemonic.Movzx:
                WriteRegister(ins.Op0Register, ReadOperand(in ins, 1, SizeOf(in ins, 1)));
                return ExecutionStatus.Continue;
            case Mnemonic.Movsx:
            case Mnemonic.Movsxd:
            {
                int s = SizeOf(in ins, 1);
                WriteRegister(ins.Op0Register, (ulong)SignExtend(ReadOperand(in ins, 1, s), s) & SizeMask(size));
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Lea:
            {
                ulong ea = ins.IsIPRelativeMemoryOperand ? ins.IPRelativeMemoryAddress : RawEffectiveAddress(in ins);
                WriteRegister(ins.Op0Register, ea & SizeMask(size));
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Add: case Mnemonic.Sub: case Mnemonic.Cmp: case Mnemonic.And: case Mnemonic.Or:
            case Mnemonic.Xor: case Mnemonic.Test: case Mnemonic.Adc: case Mnemonic.Sbb:
                return BinaryArithmetic(ref ins, size, ins.Mnemonic);
            case Mnemonic.Inc: case Mnemonic.Dec: case Mnemonic.Neg: case Mnemonic.Not:
                return IncDecNegNot(ref ins, size, ins.Mnemonic);
            case Mnemonic.Shl: case Mnemonic.Sal: case Mnemonic.Shr: case Mnemonic.Sar:
            case Mnemonic.Rol: case Mnemonic.Ror: case Mnemonic.Rcl: case Mnemonic.Rcr:
                return ShiftRotate(ref ins, size, ins.Mnemonic);
            case Mnemonic.Shld: return DoubleShift(ref ins, size, left: true);
            case Mnemonic.Shrd: return DoubleShift(ref ins, size, left: false);
            case Mnemonic.Mul: return MultiplyWide(ref ins, size, signed: false);
            case Mnemonic.Imul: return ins.OpCount == 1 ? MultiplyWide(ref ins, size, signed: true) : MultiplySigned(ref ins, size);
            case Mnemonic.Div: return Divide(ref ins, size, signed: false);
            case Mnemonic.Idiv: return Divide(ref ins, size, signed: true);
            case Mnemonic.Xchg:
            {
                ulong a = ReadOperand(in ins, 0, size), b = ReadOperand(in ins, 1, size);
                if (ins.Op0Kind == OpKind.Memory) { WriteOperand(in ins, 0, size, b); WriteRegister(ins.Op1Register, a); }
                else { WriteOperand(in ins, 1, size, a); WriteRegister(ins.Op0Register, b); }
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Xadd:
            {
                ulong a = ReadOperand(in ins, 0, size), b = ReadRegister(ins.Op1Register);
                ulong r = (a + b) & SizeMask(size);
                WriteOperand(in ins, 0, size, r);
                WriteRegister(ins.Op1Register, a);
                SetLazy(LazyFlagOp.Add, a, b, r, size);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Cmpxchg:
            {
                ulong dest = ReadOperand(in ins, 0, size), acc = Gpr.Rax & SizeMask(size);
                SetLazy(LazyFlagOp.Sub, acc, dest, (acc - dest) & SizeMask(size), size);
                // A memory destination is always written (with its old value on failure: the locked cycle writes).
                // A register destination is written only on success, so on failure a 32-bit one keeps its upper half
                // (as processors do); the accumulator is written only on failure.
                if (acc == dest) WriteOperand(in ins, 0, size, ReadRegister(ins.Op1Register));
                else
                {
                    if (ins.Op0Kind == OpKind.Memory) WriteOperand(in ins, 0, size, dest);
                    WriteRegister(SizedAccumulator(size), dest);
                }
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Cmpxchg16b: return CompareExchange16(ref ins);
            case Mnemonic.Push when ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister():
                Push(SegmentByRegister(ins.Op0Register).Selector, ins.Code is Code.Pushw_FS or Code.Pushw_GS ? 2 : 8);
                return ExecutionStatus.Continue;
            case Mnemonic.Pop when ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister():
            {
                int s = ins.Code is Code.Popw_FS or Code.Popw_GS ? 2 : 8;
                ulong v = ReadMemory(Gpr.Rsp, s);
                LoadDataSegment(ins.Op0Register, (ushort)v);
                Gpr.Rsp += (ulong)s;
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Enter: return Enter(ref ins);
            case Mnemonic.Xlatb:
                WriteRegister(Register.AL, ReadMemory(EffectiveAddress(in ins), 1));
                return ExecutionStatus.Continue;
            case Mnemonic.Cmpxchg8b: return CompareExchange8(ref ins);
            case Mnemonic.Push:
            {
                ulong v = ins.Op0Kind is OpKind.Immediate8to64 or OpKind.Immediate32to64 or OpKind.Immediate8to16
                    ? ins.GetImmediate(0) : ReadOperand(in ins, 0, size);
                Push(v, size == 2 ? 2 : 8);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Pop:
            {
                int s = size == 2 ? 2 : 8;
                ulong v = ReadMemory(Gpr.Rsp, s);
                Gpr.Rsp += (ulong)s;
                // POP with an RSP-based memory operand computes the address after the increment (SDM "POP").
                WriteOperand(in ins, 0, s, v);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Pushfq: Push(MaterializeFlags() & ~(Dispatch.Rflags.VM | Dispatch.Rflags.RF)); return ExecutionStatus.Continue;
            case Mnemonic.Popfq: return PopFlags();
            case Mnemonic.Leave:
                Gpr.Rsp = Gpr.Rbp;
                Gpr.Rbp = Pop();
                return ExecutionStatus.Continue;
            case Mnemonic.Cbw: WriteRegister(Register.AX, (ulong)(sbyte)Gpr.Rax & 0xFFFF); return ExecutionStatus.Continue;
            case Mnemonic.Cwde: WriteRegister(Register.EAX, (ulong)(uint)(short)Gpr.Rax); return ExecutionStatus.Continue;
            case Mnemonic.Cdqe: Gpr.Rax = (ulong)(long)(int)Gpr.Rax; return ExecutionStatus.Continue;
            case Mnemonic.Cwd: WriteRegister(Register.DX, (short)Gpr.Rax < 0 ? 0xFFFFUL : 0); return ExecutionStatus.Continue;
            case Mnemonic.Cdq: WriteRegister(Register.EDX, (int)Gpr.Rax < 0 ? 0xFFFF_FFFFUL : 0); return ExecutionStatus.Continue;
            case Mnemonic.Cqo: Gpr.Rdx = (long)Gpr.Rax < 0 ? ulong.MaxValue : 0; return ExecutionStatus.Continue;
            case Mnemonic.Jmp:
                Rip = ins.Op0Kind == OpKind.NearBranch64 ? ins.NearBranch64 : ReadOperand(in ins, 0, 8);
                return ExecutionStatus.Branched;
            case Mnemonic.Je: case Mnemonic.Jne: case Mnemonic.Jb: case Mnemonic.Jae: case Mnemonic.Jbe: case Mnemonic.Ja:
            case Mnemonic.Jl: case Mnemonic.Jge: case Mnemonic.Jle: case Mnemonic.Jg: case Mnemonic.Js: case Mnemonic.Jns:
            case Mnemonic.Jo: case Mnemonic.Jno: case Mnemonic.Jp: case Mnemonic.Jnp:
                if (!Condition(ins.ConditionCode)) return ExecutionStatus.FellThrough;
                Rip = ins.NearBranch64;
                return ExecutionStatus.Branched;
            case Mnemonic.Call:
            {
                ulong target = ins.Op0Kind == OpKind.NearBranch64 ? ins.NearBranch64 : ReadOperand(in ins, 0, 8);
                Push(Rip);
                Rip = target;
                return ExecutionStatus.Branched;
            }
            case Mnemonic.Ret:
            {
                ulong target = Pop();
                if (ins.OpCount == 1) Gpr.Rsp += ins.Immediate16;
                Rip = target;
                return ExecutionStatus.Branched;
            }
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne:
            {
                ulong count = Gpr.Rcx - 1;
                Gpr.Rcx = count;
                bool taken = count != 0 && (ins.Mnemonic == Mnemonic.Loop || (ins.Mnemonic == Mnemonic.Loope) == GetZF());
                if (!taken) return ExecutionStatus.FellThrough;
                Rip = ins.NearBranch64;
                return ExecutionStatus.Branched;
            }
            case Mnemonic.Jrcxz: case Mnemonic.Jecxz:
            {
                ulong c = ins.Mnemonic == Mnemonic.Jrcxz ? Gpr.Rcx : (uint)Gpr.Rcx;
                if (c != 0) return ExecutionStatus.FellThrough;
                Rip = ins.NearBranch64;
                return ExecutionStatus.Branched;
            }
            case Mnemonic.Sete: case Mnemonic.Setne: case Mnemonic.Setb: case Mnemonic.Setae: case Mnemonic.Setbe: case Mnemonic.Seta:
            case Mnemonic.Setl: case Mnemonic.Setge: case Mnemonic.Setle: case Mnemonic.Setg: case Mnemonic.Sets: case Mnemonic.Setns:
            case Mnemonic.Seto: case Mnemonic.Setno: case Mnemonic.Setp: case Mnemonic.Setnp:
                WriteOperand(in ins, 0, 1, Condition(ins.ConditionCode) ? 1UL : 0);
                return ExecutionStatus.Continue;
            case Mnemonic.Cmove: case Mnemonic.Cmovne: case Mnemonic.Cmovb: case Mnemonic.Cmovae: case Mnemonic.Cmovbe: case Mnemonic.Cmova:
            case Mnemonic.Cmovl: case Mnemonic.Cmovge: case Mnemonic.Cmovle: case Mnemonic.Cmovg: case Mnemonic.Cmovs: case Mnemonic.Cmovns:
            case Mnemonic.Cmovo: case Mnemonic.Cmovno: case Mnemonic.Cmovp: case Mnemonic.Cmovnp:
            {
                // The source is read (and may fault) whatever the condition; a 32-bit destination is zero-extended either way.
                ulong v = ReadOperand(in ins, 1, size);
                WriteRegister(ins.Op0Register, Condition(ins.ConditionCode) ? v : ReadRegister(ins.Op0Register));
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Bt: case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc:
                return BitTest(ref ins, size, ins.Mnemonic);
            case Mnemonic.Bsf: case Mnemonic.Bsr: case Mnemonic.Tzcnt: case Mnemonic.Lzcnt: case Mnemonic.Popcnt:
                return BitScan(ref ins, size, ins.Mnemonic);
            case Mnemonic.Bswap:
            {
                ulong v = ReadRegister(ins.Op0Register);
                WriteRegister(ins.Op0Register, size == 8 ? BinaryReverse(v) : BinaryReverse((uint)v));
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Nop: case Mnemonic.Endbr64: case Mnemonic.Endbr32: case Mnemonic.Lfence: case Mnemonic.Mfence:
            case Mnemonic.Sfence: case Mnemonic.Prefetchnta: case Mnemonic.Prefetcht0: case Mnemonic.Prefetcht1:
            case Mnemonic.Prefetcht2: case Mnemonic.Prefetchw:
            // The hint space 0F 18-0F 1F executes as NOP, touching no memory, on a processor that gives the encoding no
            // meaning or has the feature off: reserved NOPs, CLDEMOTE, MPX (not reported), and RDSSP, which leaves its
            // destination unchanged while CET shadow stacks are off (never enabled here); libgcc's unwinder and glibc's
            // longjmp rely on that to learn there is no shadow stack.
            case Mnemonic.Reservednop: case Mnemonic.Cldemote: case Mnemonic.Rdsspd: case Mnemonic.Rdsspq:
            case Mnemonic.Bndcl: case Mnemonic.Bndcn: case Mnemonic.Bndcu: case Mnemonic.Bndldx: case Mnemonic.Bndmk:
            case Mnemonic.Bndmov: case Mnemonic.Bndstx:
                return ExecutionStatus.Continue;
            case Mnemonic.Clflush: case Mnemonic.Clflushopt:
                ReadMemory(EffectiveAddress(in ins), 1);
                return ExecutionStatus.Continue;
            case Mnemonic.Clc: SetStatusFlags(MaterializeFlags() & ~Dispatch.Rflags.CF); return ExecutionStatus.Continue;
            case Mnemonic.Stc: SetStatusFlags(MaterializeFlags() | Dispatch.Rflags.CF); return ExecutionStatus.Continue;
            case Mnemonic.Cmc: SetStatusFlags(MaterializeFlags() ^ Dispatch.Rflags.CF); return ExecutionStatus.Continue;
            case Mnemonic.Stac: case Mnemonic.Clac:
                // Only CPL 0 may change AC this way (SDM "STAC"/"CLAC": #UD otherwise).
                if (Cpl != 0) break;
                if (ins.Mnemonic == Mnemonic.Stac) _flags |= Dispatch.Rflags.AC; else _flags &= ~Dispatch.Rflags.AC;
                return ExecutionStatus.Continue;
            case Mnemonic.Cld: _flags &= ~Dispatch.Rflags.DF; return ExecutionStatus.Continue;
            case Mnemonic.Std: _flags |= Dispatch.Rflags.DF; return ExecutionStatus.Continue;
            case Mnemonic.Lahf:
                WriteRegister(Register.AH, MaterializeFlags() & 0xD7 | 2);
                return ExecutionStatus.Continue;
            case Mnemonic.Sahf:
                SetStatusFlags((MaterializeFlags() & ~0xD5UL) | (ReadRegister(Register.AH) & 0xD5));
                return ExecutionStatus.Continue;
            case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd: case Mnemonic.Movsq:
            case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
            case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
            case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd: case Mnemonic.Cmpsq:
            case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd: case Mnemonic.Scasq:
                // SSE2 MOVSD (xmm) and CMPSD (xmm, imm8) share their mnemonics with the string instructions.
                if (ins.Mnemonic == Mnemonic.Movsd && ins.Op0Kind != OpKind.MemoryESRDI) return FloatingPointInstruction(ref ins, size);
                if (ins.Mnemonic == Mnemonic.Cmpsd && ins.OpCount == 3) return FloatingPointInstruction(ref ins, size);
                return StringInstruction(ref ins);
            case Mnemonic.Andn: case Mnemonic.Bextr: case Mnemonic.Blsi: case Mnemonic.Blsmsk: case Mnemonic.Blsr:
            case Mnemonic.Bzhi: case Mnemonic.Pdep: case Mnemonic.Pext: case Mnemonic.Rorx: case Mnemonic.Sarx:
            case Mnemonic.Shlx: case Mnemonic.Shrx: case Mnemonic.Mulx:
                return BitManipulation(ref ins, size);
            case Mnemonic.Movbe:
            {
                ulong v = ReadOperand(in ins, 1, size);
                v = size switch { 2 => BinaryReverse((ushort)v), 4 => BinaryReverse((uint)v), _ => BinaryReverse(v) };
                WriteOperand(in ins, 0, size, v);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Int3: return SoftwareException(ExceptionVector.Breakpoint, InterruptionType.SoftwareException);
            case Mnemonic.Int: return SoftwareException(ins.Immediate8, InterruptionType.SoftwareInterrupt);
            case Mnemonic.Int1: return SoftwareException(ExceptionVector.Debug, InterruptionType.PrivilegedSoftwareException);
            case Mnemonic.Iretq: return InterruptReturn();
            case Mnemonic.Ud0: case Mnemonic.Ud1: case Mnemonic.Ud2:
                break;
            default:
                return SystemInstruction(ref ins, size);
        }
        RaiseException(ExceptionVector.InvalidOpcode);
        return ExecutionStatus.Continue;
    }

    private static Register SizedAccumulator(int size) => size switch
    {
        1 => Register.AL,
        2 => Register.AX,
        4 => Register.EAX,
        _ => Register.RAX,
    };

    private ExecutionStatus PopFlags()
    {
        ulong v = Pop();
        ulong current = MaterializeFlags();
        // At CPL > 0, IOPL is kept; at CPL > IOPL, IF is kept. VM and RF are never set by POPF in 64-bit mode.
        ulong keep = Dispatch.Rflags.VM | Dispatch.Rflags.RF | Dispatch.Rflags.VIF | Dispatch.Rflags.VIP;
        if (Cpl > 0) keep |= Dispatch.Rflags.IOPL;
        if (Cpl > (int)((current >> 12) & 3)) keep |= Dispatch.Rflags.IF;
        SetFlags((v & ~keep) | (current & keep));
        return ExecutionStatus.FellThrough;
    }

    private ExecutionStatus BitTest(ref Instruction ins, int size, Mnemonic m)
    {
        int bits = size * 8;
        long offset = ins.Op1Kind == OpKind.Register ? SignExtend(ReadRegister(ins.Op1Register), size) : (long)(ins.GetImmediate(1) & (ulong)(bits - 1));
        ulong address = 0;
        ulong value;
        bool memory = ins.Op0Kind == OpKind.Memory;
        if (memory)
        {
            // A register bit offset addresses memory beyond the operand (bit string semantics).
            address = EffectiveAddress(in ins);
            if (ins.Op1Kind == OpKind.Register) address += (ulong)((offset >> (bits == 64 ? 6 : bits == 32 ? 5 : 4)) * size);
            value = ReadMemory(address, size);
        }
        else value = ReadRegister(ins.Op0Register);
        int bit = (int)(offset & (bits - 1));
        bool cf = ((value >> bit) & 1) != 0;
        ulong r = m switch
        {
            Mnemonic.Bts => value | (1UL << bit),
            Mnemonic.Btr => value & ~(1UL << bit),
            Mnemonic.Btc => value ^ (1UL << bit),
            _ => value,
        };
        if (m != Mnemonic.Bt)
        {
            if (memory) WriteMemory(address, size, r);
            else WriteRegister(ins.Op0Register, r);
        }
        SetStatusFlags((MaterializeFlags() & ~Dispatch.Rflags.CF) | (cf ? Dispatch.Rflags.CF : 0));
        return ExecutionStatus.Continue;
    }

    private ExecutionStatus BitScan(ref Instruction ins, int size, Mnemonic m)
    {
        ulong v = ReadOperand(in ins, 1, size);
        int bits = size * 8;
        ulong old = MaterializeFlags();
        switch (m)
        {
            case Mnemonic.Bsf:
            case Mnemonic.Bsr:
                if (v == 0)
                {
                    // Destination unchanged when the source is zero (as processors do; the SDM leaves it undefined).
                    SetStatusFlags((old & ~Dispatch.Rflags.ZF) | Dispatch.Rflags.ZF);
                    return ExecutionStatus.Continue;
                }
                WriteRegister(ins.Op0Register, m == Mnemonic.Bsf ? (ulong)BitOperations.TrailingZeroCount(v) : (ulong)(63 - BitOperations.LeadingZeroCount(v)));
                SetStatusFlags(old & ~Dispatch.Rflags.ZF);
                return ExecutionStatus.Continue;
            case Mnemonic.Tzcnt:
            {
                ulong r = v == 0 ? (ulong)bits : (ulong)BitOperations.TrailingZeroCount(v);
                WriteRegister(ins.Op0Register, r);
                SetStatusFlags((old & ~(Dispatch.Rflags.CF | Dispatch.Rflags.ZF)) | (v == 0 ? Dispatch.Rflags.CF : 0) | (r == 0 ? Dispatch.Rflags.ZF : 0));
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Lzcnt:
            {
                ulong r = v == 0 ? (ulong)bits : (ulong)(BitOperations.LeadingZeroCount(v) - (64 - bits));
                WriteRegister(ins.Op0Register, r);
                SetStatusFlags((old & ~(Dispatch.Rflags.CF | Dispatch.Rflags.ZF)) | (v == 0 ? Dispatch.Rflags.CF : 0) | (r == 0 ? Dispatch.Rflags.ZF : 0));
                return ExecutionStatus.Continue;
            }
            default:
            {
                ulong r = (ulong)BitOperations.PopCount(v);
                WriteRegister(ins.Op0Register, r);
                SetStatusFlags(v == 0 ? Dispatch.Rflags.ZF : 0);
                return ExecutionStatus.Continue;
            }
        }
    }

    private ExecutionStatus CompareExchange16(ref Instruction ins)
    {
        ulong address = EffectiveAddress(in ins);
        if ((address & 15) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
        ulong lo = ReadMemory(address, 8), hi = ReadMemory(address + 8, 8);
        bool equal = lo == Gpr.Rax && hi == Gpr.Rdx;
        if (equal)
        {
            WriteMemory(address, 8, Gpr.Rbx);
            WriteMemory(address + 8, 8, Gpr.Rcx);
        }
        else
        {
            WriteMemory(address, 8, lo);
            WriteMemory(address + 8, 8, hi);
            Gpr.Rax = lo;
            Gpr.Rdx = hi;
        }
        SetStatusFlags((MaterializeFlags() & ~Dispatch.Rflags.ZF) | (equal ? Dispatch.Rflags.ZF : 0));
        return ExecutionStatus.Continue;
    }

    private static ulong BinaryReverse(ulong v) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);

    private static uint BinaryReverse(uint v) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);

    private static ushort BinaryReverse(ushort v) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
}
