using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// Data-segment loads in 64-bit mode (MOV Sreg, POP FS/GS; Intel SDM Vol. 2B "MOV", "POP"): the descriptor is read from
/// the GDT and checked; a null selector makes DS/ES/FS/GS unusable (and SS too, below CPL 3). Bases other than FS and GS
/// are ignored by 64-bit addressing but kept, as the processor loads them.
/// </summary>
internal sealed partial class Processor
{
    private ref SegmentRegister SegmentByRegister(Register r)
    {
        switch (r)
        {
            case Register.ES: return ref Es;
            case Register.SS: return ref Ss;
            case Register.DS: return ref Ds;
            case Register.FS: return ref Fs;
            case Register.GS: return ref Gs;
            default: return ref Cs;
        }
    }

    private void LoadDataSegment(Register target, ushort selector)
    {
        if (target == Register.CS) RaiseException(ExceptionVector.InvalidOpcode);
        bool stack = target == Register.SS;
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0)
        {
            if (stack && (Cpl == 3 || (selector & 3) != Cpl)) RaiseException(ExceptionVector.GeneralProtection, 0);
            ref SegmentRegister nullSegment = ref SegmentByRegister(target);
            nullSegment = SegmentRegister.Unusable;
            nullSegment.Selector = selector;
            if (stack) nullSegment.AccessRights |= (uint)Cpl << 5;
            return;
        }
        if ((selector & 4) != 0 || (ulong)(selector & 0xFFF8) + 7 > GdtrLimit) RaiseException(ExceptionVector.GeneralProtection, error);
        ulong d = ReadSupervisor(GdtrBase + (ulong)(selector & 0xFFF8));
        uint access = (uint)((d >> 40) & 0xFF) | (uint)(((d >> 52) & 0xF) << 12);
        int dpl = (int)((access >> 5) & 3), rpl = selector & 3;
        bool system = (access & 0x10) == 0, code = (access & 0x08) != 0, writableOrReadable = (access & 0x02) != 0;
        if (stack)
        {
            if (system || code || !writableOrReadable || rpl != Cpl || dpl != Cpl) RaiseException(ExceptionVector.GeneralProtection, error);
            if ((access & 0x80) == 0) RaiseException(ExceptionVector.StackFault, error);
            // MOV SS blocks interrupts and debug traps until the next instruction completes.
            Interruptibility |= 2;
        }
        else
        {
            if (system || (code && !writableOrReadable)) RaiseException(ExceptionVector.GeneralProtection, error);
            // Data and non-conforming code segments need max(CPL, RPL) <= DPL.
            bool conforming = code && (access & 0x04) != 0;
            if (!conforming && Math.Max(Cpl, rpl) > dpl) RaiseException(ExceptionVector.GeneralProtection, error);
            if ((access & 0x80) == 0) RaiseException(ExceptionVector.SegmentNotPresent, error);
        }
        ulong limit = (d & 0xFFFF) | ((d >> 32) & 0xF_0000);
        if ((access & 0x8000) != 0) limit = (limit << 12) | 0xFFF;
        ref SegmentRegister s = ref SegmentByRegister(target);
        s.Selector = selector;
        s.Base = ((d >> 16) & 0xFF_FFFF) | ((d >> 32) & 0xFF00_0000);
        s.Limit = (uint)limit;
        s.AccessRights = access | 1;
    }

    private ExecutionStatus MoveSegment(ref Instruction ins, int size)
    {
        if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister())
        {
            ushort selector = (ushort)ReadOperand(in ins, 1, 2);
            LoadDataSegment(ins.Op0Register, selector);
            return ins.Op0Register == Register.SS ? ExecutionStatus.FellThrough : ExecutionStatus.Continue;
        }
        // MOV r/m, Sreg: a register destination gets the selector zero-extended, memory gets 16 bits.
        ulong value = SegmentByRegister(ins.Op1Register).Selector;
        WriteOperand(in ins, 0, ins.Op0Kind == OpKind.Memory ? 2 : size, value);
        return ExecutionStatus.Continue;
    }

    /// <summary>ENTER (Intel SDM Vol. 2A) with 64-bit stack: nesting level modulo 32.</summary>
    private ExecutionStatus Enter(ref Instruction ins)
    {
        ulong allocation = ins.Immediate16;
        int level = ins.Immediate8_2nd & 31;
        ulong rsp = Gpr.Rsp, rbp = Gpr.Rbp;
        rsp -= 8;
        WriteMemory(rsp, 8, rbp);
        ulong frame = rsp;
        if (level > 0)
        {
            for (int i = 1; i < level; i++)
            {
                rbp -= 8;
                ulong v = ReadMemory(rbp, 8);
                rsp -= 8;
                WriteMemory(rsp, 8, v);
            }
            rsp -= 8;
            WriteMemory(rsp, 8, frame);
        }
        rsp -= allocation;
        // The new stack top must be writable (the SDM checks it before changing any register).
        WriteMemory(rsp, 1, ReadMemory(rsp, 1));
        Gpr.Rbp = frame;
        Gpr.Rsp = rsp;
        return ExecutionStatus.Continue;
    }

    private ExecutionStatus CompareExchange8(ref Instruction ins)
    {
        ulong address = EffectiveAddress(in ins);
        ulong old = ReadMemory(address, 8);
        ulong expected = ((Gpr.Rdx & 0xFFFF_FFFF) << 32) | (Gpr.Rax & 0xFFFF_FFFF);
        bool equal = old == expected;
        if (equal) WriteMemory(address, 8, ((Gpr.Rcx & 0xFFFF_FFFF) << 32) | (Gpr.Rbx & 0xFFFF_FFFF));
        else
        {
            WriteMemory(address, 8, old);
            Gpr.Rax = (uint)old;
            Gpr.Rdx = old >> 32;
        }
        SetStatusFlags((MaterializeFlags() & ~Dispatch.Rflags.ZF) | (equal ? Dispatch.Rflags.ZF : 0));
        return ExecutionStatus.Continue;
    }

    /// <summary>Serialises LOCK-prefixed read-modify-write instructions (and XCHG with memory) of all vCPUs.</summary>
    private static readonly Lock s_lockedOperations = new();
}
