using System.Runtime.CompilerServices;
using Dispatch.Memory;

namespace Dispatch.Execution;

/// <summary>
/// The architectural state of one guest processor and the interpreter that runs it. Fields are internal so the
/// interpreter reaches them without indirection; the public surface is on <see cref="VCpu"/>.
/// The interpreter runs 64-bit code (IA-32e mode with CS.L = 1) only: VM entry refuses anything else.
/// </summary>
internal sealed partial class Processor
{
    internal GuestRegisters Gpr;
    internal ulong Rip;
    internal SegmentRegister Es, Cs, Ss, Ds, Fs, Gs, Ldtr, Tr;
    internal ulong GdtrBase, IdtrBase;
    internal uint GdtrLimit, IdtrLimit;
    internal ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, Xcr0 = 1;
    internal InlineDebugRegisters Dr;
    internal ulong KernelGsBase, Star, Lstar, Cstar, Sfmask, Pat = 0x0007_0406_0007_0406, ApicBase = 0xFEE0_0900;
    internal ulong SysenterCs, SysenterEsp, SysenterEip, Debugctl, TscAux;
    internal long TscOffset;
    internal XmmRegisters Xmm;
    internal uint Mxcsr = 0x1F80;
    internal ushort FpuControlWord = 0x37F, FpuStatusWord, FpuTagWord = 0xFFFF;

    /// <summary>Interruptibility state (VMCS 0x4824): bit 0 blocking by STI, bit 1 by MOV SS, bit 3 by NMI.</summary>
    internal uint Interruptibility;

    /// <summary>Guest instructions retired since creation.</summary>
    internal long InstructionsRetired;

    public Processor(GuestMemory memory)
    {
        Memory = memory;
        // DR6 and DR7 as after INIT (Intel SDM Vol. 3A, Table 10-1): what the guest sees when VM entry does not load DR7.
        Dr[6] = 0xFFFF_0FF0;
        Dr[7] = 0x400;
        _tlb = new SoftwareTlb();
        memory.CodePages.CodePageWritten += OnCodePageWritten;
        memory.CodePages.CodePageMarked += _tlb.FlushWritesTo;
    }

    public GuestMemory Memory { get; }

    /// <summary>The current privilege level: CS.DPL in 64-bit mode (SS.DPL equals it).</summary>
    internal int Cpl
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (int)((Cs.AccessRights >> 5) & 3);
    }

    /// <summary>The 64-bit value of RFLAGS with the lazily computed status flags folded in.</summary>
    internal ulong Rflags
    {
        get => MaterializeFlags();
        set => SetFlags(value);
    }

    [InlineArray(8)]
    internal struct InlineDebugRegisters
    {
        private ulong _element;
    }

    [InlineArray(16)]
    internal struct XmmRegisters
    {
        private System.Runtime.Intrinsics.Vector128<byte> _element;
    }
}
