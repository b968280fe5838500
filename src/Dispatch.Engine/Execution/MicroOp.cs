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
}

/// <summary>
/// An instruction pre-digested at decode time: its handler kind, register numbers, operand size and immediate, so the
/// common integer forms run from a few fields instead of Iced's operand accessors. Register operands are 32- or
/// 64-bit (writes zero-extend, so a write is a plain store of the masked value); memory operands use 64-bit addressing
/// without an FS/GS override.
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
    /// <summary>Immediate (masked to the operand size) or branch target.</summary>
    public ulong Immediate;
    /// <summary>Displacement, or the absolute address of a RIP-relative operand.</summary>
    public ulong Displacement;
    public ulong Mask;
    public ulong Sign;
    public ulong Ip;
    public ulong NextIp;
    public int Length;
}
