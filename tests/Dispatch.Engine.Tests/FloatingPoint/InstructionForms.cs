using Dispatch.Execution.Simd;
using Iced.Intel;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// Every legacy-encoded instruction form of the implemented x87/MMX/SSE sets, built from Iced's opcode tables with fixed
/// operands: xmm1/mm1/eax/rax for ModR/M.reg, xmm2/mm2/ebx/rbx or [rsi] for ModR/M.rm, st3 for ST(i).
/// </summary>
internal static class InstructionForms
{
    /// <summary>Forms the differential test leaves out, with the reason.</summary>
    private static readonly HashSet<Mnemonic> Excluded =
    [
        // The stored environment holds instruction/data pointers, which differ between guest and host by design.
        Mnemonic.Fnstenv, Mnemonic.Fstenv, Mnemonic.Fnsave, Mnemonic.Fsave, Mnemonic.Fldenv, Mnemonic.Frstor,
    ];

    public static IEnumerable<(string Name, Instruction Instruction)> All(Random random)
    {
        foreach (Code code in Enum.GetValues<Code>())
        {
            if (code == Code.INVALID) continue;
            var op = code.ToOpCode();
            if (op.Encoding != EncodingKind.Legacy || !op.Mode64 || Excluded.Contains(code.Mnemonic())) continue;
            if (code.CpuidFeatures().Any(f => f is not (CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387 or CpuidFeature.MMX or CpuidFeature.SSE or CpuidFeature.SSE2
                or CpuidFeature.SSE3 or CpuidFeature.SSSE3 or CpuidFeature.SSE4_1 or CpuidFeature.SSE4_2 or CpuidFeature.CMOV or CpuidFeature.X64))) continue;
            for (int form = 0; form < 2; form++)
            {
                var ins = Build(code, op, memoryForm: form == 1, random, out bool usedMemory, out bool ok);
                if (!ok || (form == 1 && !usedMemory)) continue;
                if (SimdTraits.For(in ins).Kind is SimdKind.Unsupported or SimdKind.Special) continue;
                yield return (ins.ToString(), ins);
            }
        }
    }

    private static Instruction Build(Code code, OpCodeInfo op, bool memoryForm, Random random, out bool usedMemory, out bool ok)
    {
        var ins = Instruction.Create(Code.Nopd);
        ins.Code = code;
        usedMemory = false;
        ok = true;
        for (int i = 0; i < op.OpCount; i++)
        {
            var k = op.GetOpKind(i);
            string name = k.ToString();
            bool rm = name.EndsWith("_rm") || name.EndsWith("_or_mem");
            bool memOnly = name.StartsWith("mem");
            if (memOnly || (rm && memoryForm))
            {
                ins.SetOpKind(i, OpKind.Memory);
                ins.MemoryBase = Register.RSI;
                ins.MemoryDisplSize = 0;
                usedMemory = true;
                continue;
            }
            Register r = name switch
            {
                "xmm_reg" => Register.XMM1,
                "xmm_rm" or "xmm_or_mem" => Register.XMM2,
                "mm_reg" => Register.MM1,
                "mm_rm" or "mm_or_mem" => Register.MM2,
                "r32_reg" => Register.EAX,
                "r32_rm" or "r32_or_mem" => Register.EBX,
                "r64_reg" => Register.RAX,
                "r64_rm" or "r64_or_mem" => Register.RBX,
                "r8_or_mem" or "r8_rm" => Register.BL,
                "r16_or_mem" or "r16_rm" => Register.BX,
                "r32_opcode" => Register.EAX,
                "st0" => Register.ST0,
                "sti_opcode" => Register.ST3,
                "ax" => Register.AX,
                _ => Register.None,
            };
            if (r != Register.None)
            {
                ins.SetOpKind(i, OpKind.Register);
                ins.SetOpRegister(i, r);
                continue;
            }
            if (name == "imm8")
            {
                ins.SetOpKind(i, OpKind.Immediate8);
                ins.Immediate8 = (byte)random.Next(256);
                continue;
            }
            ok = false;
        }
        return ins;
    }
}
