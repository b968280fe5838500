using System.Runtime.Intrinsics.X86;
using Iced.Intel;

namespace Dispatch.Execution.Simd;

/// <summary>How the interpreter treats an instruction form of the x87, MMX and SSE families.</summary>
internal enum SimdKind : byte
{
    /// <summary>Not implemented (or not available on this host): #UD.</summary>
    Unsupported,
    /// <summary>SSE to SSE4.2: #UD if CR0.EM or !CR4.OSFXSR, #NM if CR0.TS.</summary>
    Sse,
    /// <summary>Integer instructions from those sets (CRC32, MOVNTI): no CR0/CR4 checks.</summary>
    Integer,
    /// <summary>MMX: #UD if CR0.EM, #NM if CR0.TS, #MF if an x87 exception is pending.</summary>
    Mmx,
    /// <summary>x87 arithmetic and data movement: #NM if CR0.EM or CR0.TS, #MF if pending; updates FIP/FDP/FOP.</summary>
    X87,
    /// <summary>x87 control instructions that wait (FLDCW, FLDENV, FRSTOR, FSTSW...): no FIP/FDP update.</summary>
    X87Control,
    /// <summary>Non-waiting x87 control instructions (FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE): never #MF.</summary>
    X87NoWait,
    /// <summary>Handled in software: LDMXCSR, STMXCSR, FXSAVE, FXRSTOR, MASKMOVDQU, FWAIT, XSAVE/XSAVEOPT/XSAVEC/XRSTOR.</summary>
    Special,
}

/// <summary>Per-<see cref="Code"/> facts, computed once from the first instance seen. A class, so that a vCPU thread
/// reading the shared table while another publishes an entry sees either nothing or a whole entry, never a torn one.</summary>
internal sealed class SimdTraits
{
    public readonly SimdKind Kind;
    /// <summary>Operand access, the same for the register and the memory form of a <see cref="Code"/>.</summary>
    public readonly OpAccess Op0, Op1, Op2, Op3;
    public readonly bool ImplicitXmm0, Unaligned;

    private SimdTraits(SimdKind kind, in InstructionInfo info, bool implicitXmm0, bool unaligned)
    {
        Kind = kind;
        Op0 = info.Op0Access;
        Op1 = info.Op1Access;
        Op2 = info.Op2Access;
        Op3 = info.Op3Access;
        ImplicitXmm0 = implicitXmm0;
        Unaligned = unaligned;
    }

    public OpAccess Access(int operand) => operand switch { 0 => Op0, 1 => Op1, 2 => Op2, _ => Op3 };

    private static readonly SimdTraits?[] s_table = new SimdTraits?[Enum.GetValues<Code>().Length];

    public static SimdTraits For(in Instruction ins)
    {
        // Two threads may compute the same entry; both results are equal, and either may win.
        return Volatile.Read(ref s_table[(int)ins.Code]) ?? (s_table[(int)ins.Code] = Compute(in ins));
    }

    /// <summary>The instruction-set extensions the interpreter implements on this host (what CPUID reports).</summary>
    public static bool Implements(CpuidFeature feature) => HostStubs.IsSupported && feature switch
    {
        // FPU287: the forms the 80287 added, FNSTSW AX and FSTSW AX among them.
        CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387 or CpuidFeature.MMX or CpuidFeature.SSE or CpuidFeature.SSE2 or CpuidFeature.FXSR => true,
        CpuidFeature.CMOV or CpuidFeature.X64 => true,
        // The XSAVE feature set for the x87 and SSE components, done in software (Processor.Xsave.cs).
        CpuidFeature.XSAVE or CpuidFeature.XSAVEOPT or CpuidFeature.XSAVEC => true,
        CpuidFeature.SSE3 => Sse3.IsSupported,
        CpuidFeature.SSSE3 => Ssse3.IsSupported,
        CpuidFeature.SSE4_1 => Sse41.IsSupported,
        CpuidFeature.SSE4_2 => Sse42.IsSupported,
        _ => false,
    };

    private static SimdTraits Compute(in Instruction ins)
    {
        // The traits are cached per encoding form (Code), so they must not depend on the instance: Iced reports a zeroing
        // idiom such as PXOR XMM2, XMM2 as writing its destination without reading it, which is wrong for every other
        // instance of the form (PXOR XMM1, [RSI] reads XMM1). Operands equal to the destination are renamed first.
        var info = new InstructionInfoFactory().GetInfo(WithDistinctRegisters(in ins));
        var m0 = ins.Mnemonic;
        bool implicitXmm0 = m0 is Mnemonic.Pblendvb or Mnemonic.Blendvps or Mnemonic.Blendvpd or Mnemonic.Pcmpestrm
            or Mnemonic.Pcmpistrm or Mnemonic.Pcmpestrm64;
        bool unaligned = m0 is Mnemonic.Movups or Mnemonic.Movupd or Mnemonic.Movdqu or Mnemonic.Lddqu
            or Mnemonic.Pcmpestri or Mnemonic.Pcmpestrm or Mnemonic.Pcmpistri or Mnemonic.Pcmpistrm
            or Mnemonic.Pcmpestri64 or Mnemonic.Pcmpestrm64;
        return new SimdTraits(Classify(in ins), in info, implicitXmm0, unaligned);
    }

    private static Instruction WithDistinctRegisters(in Instruction ins)
    {
        var copy = ins;
        if (ins.OpCount < 2 || ins.Op0Kind != OpKind.Register) return copy;
        var destination = ins.Op0Register;
        for (int i = 1; i < ins.OpCount; i++)
        {
            if (ins.GetOpKind(i) != OpKind.Register || ins.GetOpRegister(i) != destination) continue;
            // Another register of the same file: the next one, or the previous one at the end of the file.
            var next = destination + 1;
            copy.SetOpRegister(i, IsSameFile(destination, next) ? next : destination - 1);
        }
        return copy;
    }

    private static bool IsSameFile(Register a, Register b) =>
        (a.IsXMM() && b.IsXMM()) || (a.IsMM() && b.IsMM()) || (a.IsST() && b.IsST()) || (a.IsGPR64() && b.IsGPR64()) || (a.IsGPR32() && b.IsGPR32());

    private static SimdKind Classify(in Instruction ins)
    {
        if (!HostStubs.IsSupported || ins.Encoding != EncodingKind.Legacy) return SimdKind.Unsupported;
        switch (ins.Mnemonic)
        {
            case Mnemonic.Ldmxcsr: case Mnemonic.Stmxcsr: case Mnemonic.Fxsave: case Mnemonic.Fxsave64:
            case Mnemonic.Fxrstor: case Mnemonic.Fxrstor64: case Mnemonic.Maskmovdqu: case Mnemonic.Wait:
            case Mnemonic.Xsave: case Mnemonic.Xsave64: case Mnemonic.Xsaveopt: case Mnemonic.Xsaveopt64:
            case Mnemonic.Xsavec: case Mnemonic.Xsavec64: case Mnemonic.Xrstor: case Mnemonic.Xrstor64:
                return SimdKind.Special;
            // XSAVES/XRSTORS need IA32_XSS and supervisor state components, which the engine does not model.
            case Mnemonic.Xsaves: case Mnemonic.Xsaves64: case Mnemonic.Xrstors: case Mnemonic.Xrstors64:
                return SimdKind.Unsupported;
            // Implicit memory operands, or outside the implemented sets.
            case Mnemonic.Maskmovq: case Mnemonic.Monitor: case Mnemonic.Mwait:
            // Obsolete 8087/287 encodings: treated as the NOPs modern processors execute them as would need no stub,
            // but they are rare enough to leave unimplemented.
            case Mnemonic.Fneni: case Mnemonic.Fndisi: case Mnemonic.Fnsetpm: case Mnemonic.Feni: case Mnemonic.Fdisi:
            case Mnemonic.Fsetpm: case Mnemonic.Frstpm:
                return SimdKind.Unsupported;
        }
        var features = ins.Code.CpuidFeatures();
        bool x87 = false, mmx = false, sse = false;
        foreach (var f in features)
        {
            if (!Implements(f)) return SimdKind.Unsupported;
            if (f is CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387) x87 = true;
            else if (f == CpuidFeature.MMX) mmx = true;
            else if (f is CpuidFeature.SSE or CpuidFeature.SSE2 or CpuidFeature.SSE3 or CpuidFeature.SSSE3 or CpuidFeature.SSE4_1 or CpuidFeature.SSE4_2) sse = true;
        }
        if (ins.Mnemonic is Mnemonic.Crc32 or Mnemonic.Movnti) return SimdKind.Integer;
        if (x87)
        {
            return ins.Mnemonic switch
            {
                Mnemonic.Fninit or Mnemonic.Fnclex or Mnemonic.Fnstcw or Mnemonic.Fnstsw or Mnemonic.Fnstenv or Mnemonic.Fnsave => SimdKind.X87NoWait,
                Mnemonic.Finit or Mnemonic.Fclex or Mnemonic.Fstcw or Mnemonic.Fstsw or Mnemonic.Fstenv or Mnemonic.Fsave
                    or Mnemonic.Fldcw or Mnemonic.Fldenv or Mnemonic.Frstor => SimdKind.X87Control,
                _ => SimdKind.X87,
            };
        }
        if (sse) return SimdKind.Sse;
        if (mmx) return SimdKind.Mmx;
        return SimdKind.Unsupported;
    }
}
