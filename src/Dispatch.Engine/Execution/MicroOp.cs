using System.Runtime.InteropServices;

namespace Dispatch.Execution;

/// <summary>What the block loop does for an instruction without going through Iced's operand model.</summary>
internal enum FastKind : byte
{
    /// <summary>Anything else: the general handler over the decoded <see cref="Iced.Intel.Instruction"/>.</summary>
    Generic,
    Nop,
    MovRR, MovRI, Load, Store, StoreImm,
    Add, Sub, And, Or, Xor, Cmp, Test,
    AddI, SubI, AndI, OrI, XorI, CmpI, TestI,
    Inc, Dec, Lea,
    Jcc, Jmp, Call, Ret, Push, Pop,

    /// <summary>An instruction that always exits (CPUID, VMCALL): the exit reason is <see cref="MicroOp.Immediate"/>.</summary>
    UnconditionalExit,

    /// <summary>Register op= register for the ALU operations without a kind of their own (ADC, SBB), by <see cref="MicroOp.Alu"/>.</summary>
    AluRR,
    /// <summary>Register op= immediate, by <see cref="MicroOp.Alu"/> (ADC, SBB).</summary>
    AluRI,
    /// <summary>Register op= memory (CMP and TEST only read), by <see cref="MicroOp.Alu"/>.</summary>
    AluLoad,
    /// <summary>Memory op= register (or immediate when <see cref="MicroOp.Src"/> is none); CMP and TEST only read.</summary>
    AluMem,
    Not, Neg,

    /// <summary>Shifts and rotates of a register by an immediate count, already masked and not zero.</summary>
    ShlI, ShrI, SarI, RolI, RorI,
    /// <summary>Shifts and rotates of a register by CL (masked at run time; a zero count changes no flag).</summary>
    ShlCl, ShrCl, SarCl, RolCl, RorCl,

    /// <summary>MOVZX/MOVSX/MOVSXD from a register or memory; <see cref="MicroOp.ExtendShift"/> drops the bits above the source.</summary>
    Movzx, MovzxLoad, Movsx, MovsxLoad,
    /// <summary>Two-operand IMUL of registers, and IMUL register, register, immediate.</summary>
    Imul, ImulI,
    /// <summary>SETcc of a low byte register.</summary>
    Setcc,
    Cmov, CmovLoad,
    Bswap,

    // The flags these would write are overwritten later in the block before anything can read them
    // (Processor.FlagLiveness.cs): only the value is computed.
    AddPure, SubPure, AndPure, OrPure, XorPure,
    AddIPure, SubIPure, AndIPure, OrIPure, XorIPure,
    IncPure, DecPure,
    ShlIPure, ShrIPure, SarIPure, RolIPure, RorIPure,
}

/// <summary>The ALU operation of the <c>Alu*</c> kinds.</summary>
internal enum AluOperation : byte
{
    Add, Sub, And, Or, Xor, Cmp, Test, Adc, Sbb,
}

/// <summary>
/// An instruction pre-digested at decode time: its handler kind, register numbers, operand size and immediate, so the
/// common integer forms run from a few fields instead of Iced's operand accessors. Register operands are 32- or
/// 64-bit (writes zero-extend, so a write is a plain store of the masked value) unless a kind says otherwise; memory
/// operands use 64-bit addressing without an FS/GS override.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MicroOp
{
    public const byte NoRegister = 0xFF;

    public FastKind Kind;
    public byte Dst;
    public byte Src;
    public byte Base;
    public byte Index;
    public byte Scale;
    /// <summary>Operand size in bytes (of the first operand for generic instructions).</summary>
    public byte Size;
    public Iced.Intel.ConditionCode Condition;
    public AluOperation Alu;
    /// <summary>Size in bytes of a memory operand that differs from <see cref="Size"/> (MOVZX/MOVSX sources).</summary>
    public byte SourceSize;
    /// <summary>64 minus the source width of MOVZX/MOVSX: shifting left then right by it zero- or sign-extends.</summary>
    public byte ExtendShift;
    /// <summary>Immediate (masked to the operand size), shift count, or branch target.</summary>
    public ulong Immediate;
    /// <summary>Displacement, or the absolute address of a RIP-relative operand.</summary>
    public ulong Displacement;
    public ulong Mask;
    public ulong Sign;
    public ulong Ip;
    public ulong NextIp;
    public int Length;
}
