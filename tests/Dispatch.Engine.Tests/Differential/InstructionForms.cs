using System.Runtime.Intrinsics.X86;
using Iced.Intel;
using static Dispatch.Engine.Tests.Differential.DifferentialHarness;

namespace Dispatch.Engine.Tests.Differential;

/// <summary>The general-purpose instruction forms compared against the host, by category.</summary>
internal static class InstructionForms
{
    public const int RegisterCases = 1000, ImmediateCases = 200, ConditionCases = 250;

    private static readonly int[] Sizes = [1, 2, 4, 8];
    private static readonly Register[] Dst = [Register.None, Register.BL, Register.BX, Register.None, Register.EBX, Register.None, Register.None, Register.None, Register.RBX];
    private static readonly Register[] Src = [Register.None, Register.DH, Register.SI, Register.None, Register.R10D, Register.None, Register.None, Register.None, Register.RSI];

    // The memory operand: the first qword after RFLAGS in the state record; R15 points at the record.
    private static MemoryOperand Mem => new(Register.R15, MemoryOffset);

    private static readonly string[] Conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

    public static IReadOnlyList<InstructionForm> All { get; } = Build();

    public static IReadOnlyDictionary<string, InstructionForm> ByName { get; } = All.ToDictionary(f => f.Name);

    public static TheoryData<string> Category(string category)
    {
        var data = new TheoryData<string>();
        foreach (var f in All)
            if (f.Category == category) data.Add(f.Name);
        return data;
    }

    private static Code C(string name) => Enum.Parse<Code>(name);

    private static int Bits(int size) => size * 8;

    private static List<InstructionForm> Build()
    {
        var forms = new List<InstructionForm>();
        void Add(string category, string name, Instruction ins, int cases = RegisterCases, bool memory = false, Fixup? fix = null, ulong undefined = 0, Instruction[]? before = null)
        {
            if (forms.Any(f => f.Name == name)) name += $"#{forms.Count}";
            forms.Add(new InstructionForm(name, category, ins, cases, memory, fix, undefined, before));
        }

        // ---- ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST ----
        foreach (var op in new[] { "Add", "Or", "Adc", "Sbb", "And", "Sub", "Xor", "Cmp" })
        {
            foreach (int s in Sizes)
            {
                int b = Bits(s);
                Add("alu", $"{op}_rm{b}_r{b}", Instruction.Create(C($"{op}_rm{b}_r{b}"), Dst[s], Src[s]));
                Add("alu", $"{op}_r{b}_rm{b}", Instruction.Create(C($"{op}_r{b}_rm{b}"), Dst[s], Src[s]));
                string immCode = s == 1 ? "imm8" : s == 2 ? "imm16" : "imm32";
                foreach (int imm in new[] { 1, 0x7F, -0x80, -1, 0x5A })
                {
                    Add("alu", $"{op}_rm{b}_{immCode}({imm})", Instruction.Create(C($"{op}_rm{b}_{immCode}"), Dst[s], imm), ImmediateCases);
                    if (s > 1) Add("alu", $"{op}_rm{b}_imm8({imm})", Instruction.Create(C($"{op}_rm{b}_imm8"), Dst[s], imm), ImmediateCases);
                }
                string acc = s switch { 1 => "AL", 2 => "AX", 4 => "EAX", _ => "RAX" };
                Register accReg = s switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };
                Add("alu", $"{op}_{acc}_{immCode}", Instruction.Create(C($"{op}_{acc}_{immCode}"), accReg, -0x33), ImmediateCases);
            }
            Add("alu", $"{op}_rm8_r8(sil,r10l)", Instruction.Create(C($"{op}_rm8_r8"), Register.SIL, Register.R10L));
            Add("alu", $"{op}_rm8_r8(ah,bl)", Instruction.Create(C($"{op}_rm8_r8"), Register.AH, Register.BL));
            Add("alu", $"{op}_m32_r32", Instruction.Create(C($"{op}_rm32_r32"), Mem, Register.ESI), memory: true);
            Add("alu", $"{op}_r64_m64", Instruction.Create(C($"{op}_r64_rm64"), Register.RBX, Mem), memory: true);
            Add("alu", $"{op}_m8_imm8", Instruction.Create(C($"{op}_rm8_imm8"), Mem, 0x81), ImmediateCases, memory: true);
            Add("alu", $"{op}_m64_imm8", Instruction.Create(C($"{op}_rm64_imm8"), Mem, -3), ImmediateCases, memory: true);
        }
        foreach (int s in Sizes)
        {
            int b = Bits(s);
            Add("alu", $"Test_rm{b}_r{b}", Instruction.Create(C($"Test_rm{b}_r{b}"), Dst[s], Src[s]));
            string immCode = s == 1 ? "imm8" : s == 2 ? "imm16" : "imm32";
            Add("alu", $"Test_rm{b}_{immCode}", Instruction.Create(C($"Test_rm{b}_{immCode}"), Dst[s], s == 1 ? 0x81 : -0x7FF0), ImmediateCases);
            Add("alu", $"Test_rm{b}_{immCode}(1)", Instruction.Create(C($"Test_rm{b}_{immCode}"), Dst[s], 1), ImmediateCases);
        }
        Add("alu", "Test_m64_r64", Instruction.Create(Code.Test_rm64_r64, Mem, Register.RSI), memory: true);

        // ---- INC/DEC/NEG/NOT ----
        foreach (var op in new[] { "Inc", "Dec", "Neg", "Not" })
        {
            foreach (int s in Sizes) Add("alu", $"{op}_rm{Bits(s)}", Instruction.Create(C($"{op}_rm{Bits(s)}"), Dst[s]));
            Add("alu", $"{op}_rm8(ah)", Instruction.Create(C($"{op}_rm8"), Register.AH));
            Add("alu", $"{op}_m32", Instruction.Create(C($"{op}_rm32"), Mem), memory: true);
        }

        // ---- Shifts and rotates ----
        foreach (var op in new[] { "Rol", "Ror", "Rcl", "Rcr", "Shl", "Shr", "Sar" })
        {
            foreach (int s in Sizes)
            {
                int b = Bits(s);
                Add("shift", $"{op}_rm{b}_1", Instruction.Create(C($"{op}_rm{b}_1"), Dst[s], 1));
                Add("shift", $"{op}_rm{b}_CL", Instruction.Create(C($"{op}_rm{b}_CL"), Dst[s], Register.CL), fix: CountInCl(b));
                foreach (int imm in new[] { 0, 1, 2, b - 1, b, b + 1, 33, 255 }.Distinct())
                {
                    // The SDM leaves OF undefined whenever the masked count is above 1 (Iced treats a rotate by a
                    // multiple of the width as changing nothing; processors differ).
                    int masked = imm & (b == 64 ? 63 : 31);
                    Add("shift", $"{op}_rm{b}_imm8({imm})", Instruction.Create(C($"{op}_rm{b}_imm8"), Dst[s], imm), ImmediateCases,
                        undefined: masked > 1 ? 0x800UL : 0);
                }
            }
            Add("shift", $"{op}_m64_CL", Instruction.Create(C($"{op}_rm64_CL"), Mem, Register.CL), memory: true, fix: CountInCl(64));
            Add("shift", $"{op}_m16_1", Instruction.Create(C($"{op}_rm16_1"), Mem, 1), memory: true);
        }
        Add("shift", "Sal_rm32_CL", Instruction.Create(Code.Sal_rm32_CL, Register.EBX, Register.CL), fix: CountInCl(32));
        Add("shift", "Sal_rm8_imm8(3)", Instruction.Create(Code.Sal_rm8_imm8, Register.BL, 3), ImmediateCases);
        foreach (var op in new[] { "Shld", "Shrd" })
        {
            foreach (int s in new[] { 2, 4, 8 })
            {
                int b = Bits(s);
                // 16-bit counts above 16 leave the result undefined: keep them out.
                Add("shift", $"{op}_rm{b}_r{b}_CL", Instruction.Create(C($"{op}_rm{b}_r{b}_CL"), Dst[s], Src[s], Register.CL),
                    fix: s == 2 ? CountInCl(16, limit: 16) : CountInCl(b));
                foreach (int imm in new[] { 0, 1, 4, 15, 16, 31, 32, 63 })
                {
                    if (s == 2 && imm > 16) continue;
                    Add("shift", $"{op}_rm{b}_r{b}_imm8({imm})", Instruction.Create(C($"{op}_rm{b}_r{b}_imm8"), Dst[s], Src[s], imm), ImmediateCases);
                }
            }
            Add("shift", $"{op}_m32_r32_CL", Instruction.Create(C($"{op}_rm32_r32_CL"), Mem, Register.ESI, Register.CL), memory: true, fix: CountInCl(32));
        }

        // ---- MUL/IMUL/DIV/IDIV ----
        foreach (int s in Sizes)
        {
            int b = Bits(s);
            Add("muldiv", $"Mul_rm{b}", Instruction.Create(C($"Mul_rm{b}"), Dst[s]));
            Add("muldiv", $"Imul_rm{b}", Instruction.Create(C($"Imul_rm{b}"), Dst[s]));
            Add("muldiv", $"Div_rm{b}", Instruction.Create(C($"Div_rm{b}"), Dst[s]), fix: NoDivideFault(s, signed: false, 3, Dst[s]));
            Add("muldiv", $"Idiv_rm{b}", Instruction.Create(C($"Idiv_rm{b}"), Dst[s]), fix: NoDivideFault(s, signed: true, 3, Dst[s]));
            if (s == 1) continue;
            Add("muldiv", $"Imul_r{b}_rm{b}", Instruction.Create(C($"Imul_r{b}_rm{b}"), Dst[s], Src[s]));
            string immCode = s == 2 ? "imm16" : "imm32";
            foreach (int imm in new[] { -1, 3, 0x7F, -0x80, 0x1234 })
            {
                Add("muldiv", $"Imul_r{b}_rm{b}_{immCode}({imm})", Instruction.Create(C($"Imul_r{b}_rm{b}_{immCode}"), Dst[s], Src[s], imm), ImmediateCases);
                if (imm is >= -128 and <= 127)
                    Add("muldiv", $"Imul_r{b}_rm{b}_imm8({imm})", Instruction.Create(C($"Imul_r{b}_rm{b}_imm8"), Dst[s], Src[s], imm), ImmediateCases);
            }
        }
        Add("muldiv", "Mul_rm8(ah)", Instruction.Create(Code.Mul_rm8, Register.AH));
        Add("muldiv", "Div_rm8(dh)", Instruction.Create(Code.Div_rm8, Register.DH), fix: NoDivideFault(1, signed: false, 2, Register.DH));
        Add("muldiv", "Mul_m64", Instruction.Create(Code.Mul_rm64, Mem), memory: true);
        Add("muldiv", "Imul_r32_m32", Instruction.Create(Code.Imul_r32_rm32, Register.EBX, Mem), memory: true);
        Add("muldiv", "Idiv_m32", Instruction.Create(Code.Idiv_rm32, Mem), memory: true, fix: NoDivideFault(4, signed: true, MemorySlot, Register.None));

        // ---- Bit test, scan, count, swap ----
        foreach (var op in new[] { "Bt", "Bts", "Btr", "Btc" })
        {
            foreach (int s in new[] { 2, 4, 8 })
            {
                int b = Bits(s);
                Add("bits", $"{op}_rm{b}_r{b}", Instruction.Create(C($"{op}_rm{b}_r{b}"), Dst[s], Src[s]));
                foreach (int imm in new[] { 0, 5, b - 1, 200 })
                    Add("bits", $"{op}_rm{b}_imm8({imm})", Instruction.Create(C($"{op}_rm{b}_imm8"), Dst[s], imm), ImmediateCases);
            }
            // Memory bit strings: keep the offset within the state record (-128 .. 191 bits around the operand).
            Add("bits", $"{op}_m64_r64", Instruction.Create(C($"{op}_rm64_r64"), Mem, Register.RSI), memory: true, fix: BitOffsetIn(6, 8));
            Add("bits", $"{op}_m16_r16", Instruction.Create(C($"{op}_rm16_r16"), Mem, Register.SI), memory: true, fix: BitOffsetIn(6, 2));
            Add("bits", $"{op}_m32_imm8(37)", Instruction.Create(C($"{op}_rm32_imm8"), Mem, 37), ImmediateCases, memory: true);
        }
        var scans = new List<string> { "Bsf", "Bsr", "Popcnt", "Tzcnt" };
        if (Lzcnt.IsSupported) scans.Add("Lzcnt");
        foreach (var op in scans)
        {
            foreach (int s in new[] { 2, 4, 8 })
                Add("bits", $"{op}_r{Bits(s)}_rm{Bits(s)}", Instruction.Create(C($"{op}_r{Bits(s)}_rm{Bits(s)}"), Dst[s], Src[s]), fix: SometimesZero(6));
            Add("bits", $"{op}_r64_m64", Instruction.Create(C($"{op}_r64_rm64"), Register.RBX, Mem), memory: true, fix: SometimesZero(MemorySlot));
        }
        Add("bits", "Bswap_r32", Instruction.Create(Code.Bswap_r32, Register.EBX));
        Add("bits", "Bswap_r64", Instruction.Create(Code.Bswap_r64, Register.RBX));
        Add("bits", "Bswap_r64(r12)", Instruction.Create(Code.Bswap_r64, Register.R12));

        // ---- Exchange and compare-exchange ----
        foreach (int s in Sizes)
        {
            int b = Bits(s);
            Add("misc", $"Xadd_rm{b}_r{b}", Instruction.Create(C($"Xadd_rm{b}_r{b}"), Dst[s], Src[s]));
            Register acc = s switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };
            Add("misc", $"Cmpxchg_rm{b}_r{b}", Instruction.Create(C($"Cmpxchg_rm{b}_r{b}"), Dst[s], Src[s]), fix: SometimesEqual(0, 3));
            Add("misc", $"Xchg_rm{b}_r{b}", Instruction.Create(C($"Xchg_rm{b}_r{b}"), Dst[s], Src[s]));
            _ = acc;
        }
        Add("misc", "Xchg_r32_EAX", Instruction.Create(Code.Xchg_r32_EAX, Register.EBX, Register.EAX));
        Add("misc", "Xchg_r64_RAX", Instruction.Create(Code.Xchg_r64_RAX, Register.R9, Register.RAX));
        Add("misc", "Xchg_r16_AX", Instruction.Create(Code.Xchg_r16_AX, Register.SI, Register.AX));
        Add("misc", "Xadd_m32_r32", Instruction.Create(Code.Xadd_rm32_r32, Mem, Register.ESI), memory: true);
        Add("misc", "Cmpxchg_m64_r64", Instruction.Create(Code.Cmpxchg_rm64_r64, Mem, Register.RSI), memory: true, fix: SometimesEqual(0, MemorySlot));
        Add("misc", "Xchg_m16_r16", Instruction.Create(Code.Xchg_rm16_r16, Mem, Register.SI), memory: true);

        // ---- CMOVcc, SETcc ----
        foreach (var cc in Conditions)
        {
            string name = char.ToUpperInvariant(cc[0]) + cc[1..];
            foreach (int s in new[] { 2, 4, 8 })
                Add("cc", $"Cmov{cc}_r{Bits(s)}_rm{Bits(s)}", Instruction.Create(C($"Cmov{cc}_r{Bits(s)}_rm{Bits(s)}"), Dst[s], Src[s]), ConditionCases);
            Add("cc", $"Set{cc}_rm8", Instruction.Create(C($"Set{cc}_rm8"), Register.BL), ConditionCases);
            _ = name;
        }
        Add("cc", "Cmovl_r32_m32", Instruction.Create(Code.Cmovl_r32_rm32, Register.EBX, Mem), memory: true);
        Add("cc", "Setg_rm8(ah)", Instruction.Create(Code.Setg_rm8, Register.AH), ConditionCases);
        Add("cc", "Setbe_m8", Instruction.Create(Code.Setbe_rm8, Mem), ConditionCases, memory: true);

        // ---- Moves with extension, LEA, sign conversions, flag instructions ----
        Add("misc", "Movzx_r16_rm8", Instruction.Create(Code.Movzx_r16_rm8, Register.BX, Register.DH));
        Add("misc", "Movzx_r32_rm8", Instruction.Create(Code.Movzx_r32_rm8, Register.EBX, Register.AH));
        Add("misc", "Movzx_r64_rm8", Instruction.Create(Code.Movzx_r64_rm8, Register.RBX, Register.SIL));
        Add("misc", "Movzx_r16_rm16", Instruction.Create(Code.Movzx_r16_rm16, Register.BX, Register.SI));
        Add("misc", "Movzx_r32_rm16", Instruction.Create(Code.Movzx_r32_rm16, Register.EBX, Register.SI));
        Add("misc", "Movzx_r64_rm16", Instruction.Create(Code.Movzx_r64_rm16, Register.RBX, Register.SI));
        Add("misc", "Movsx_r16_rm8", Instruction.Create(Code.Movsx_r16_rm8, Register.BX, Register.DH));
        Add("misc", "Movsx_r32_rm8", Instruction.Create(Code.Movsx_r32_rm8, Register.EBX, Register.AH));
        Add("misc", "Movsx_r64_rm8", Instruction.Create(Code.Movsx_r64_rm8, Register.RBX, Register.SIL));
        Add("misc", "Movsx_r16_rm16", Instruction.Create(Code.Movsx_r16_rm16, Register.BX, Register.SI));
        Add("misc", "Movsx_r32_rm16", Instruction.Create(Code.Movsx_r32_rm16, Register.EBX, Register.SI));
        Add("misc", "Movsx_r64_rm16", Instruction.Create(Code.Movsx_r64_rm16, Register.RBX, Register.SI));
        Add("misc", "Movsxd_r64_rm32", Instruction.Create(Code.Movsxd_r64_rm32, Register.RBX, Register.ESI));
        Add("misc", "Movsxd_r32_rm32", Instruction.Create(Code.Movsxd_r32_rm32, Register.EBX, Register.ESI));
        Add("misc", "Movsxd_r16_rm16", Instruction.Create(Code.Movsxd_r16_rm16, Register.BX, Register.SI));
        Add("misc", "Movsx_r64_m8", Instruction.Create(Code.Movsx_r64_rm8, Register.RBX, new MemoryOperand(Register.R15, MemoryOffset + 3)), memory: true);
        Add("misc", "Movzx_r32_m16", Instruction.Create(Code.Movzx_r32_rm16, Register.EBX, Mem), memory: true);
        Add("misc", "Mov_r32_rm32", Instruction.Create(Code.Mov_r32_rm32, Register.EBX, Register.ESI));
        Add("misc", "Mov_r8_rm8(ah)", Instruction.Create(Code.Mov_r8_rm8, Register.AH, Register.DL));
        Add("misc", "Mov_rm16_r16", Instruction.Create(Code.Mov_rm16_r16, Register.BX, Register.SI));
        Add("misc", "Mov_r64_imm64", Instruction.Create(Code.Mov_r64_imm64, Register.RBX, 0x1234_5678_9ABC_DEF0UL), ImmediateCases);
        Add("misc", "Mov_rm64_imm32", Instruction.Create(Code.Mov_rm64_imm32, Register.RBX, -5), ImmediateCases);
        Add("misc", "Mov_r32_imm32", Instruction.Create(Code.Mov_r32_imm32, Register.EBX, 0x8000_0001u), ImmediateCases);
        Add("misc", "Mov_m16_imm16", Instruction.Create(Code.Mov_rm16_imm16, Mem, 0xBEEF), ImmediateCases, memory: true);
        Add("misc", "Lea_r64(rbx+rsi*4+0x10)", Instruction.Create(Code.Lea_r64_m, Register.RAX, new MemoryOperand(Register.RBX, Register.RSI, 4, 0x10, 1)));
        Add("misc", "Lea_r64(rbx+rsi*8-0x80)", Instruction.Create(Code.Lea_r64_m, Register.RAX, new MemoryOperand(Register.RBX, Register.RSI, 8, -0x80, 1)));
        Add("misc", "Lea_r64(rsi*2+disp32)", Instruction.Create(Code.Lea_r64_m, Register.RAX, new MemoryOperand(Register.None, Register.RSI, 2, 0x1234_5678, 4)));
        Add("misc", "Lea_r64(rbx+r9)", Instruction.Create(Code.Lea_r64_m, Register.R11, new MemoryOperand(Register.RBX, Register.R9, 1, 0, 0)));
        Add("misc", "Lea_r32(rbx+rsi*2-5)", Instruction.Create(Code.Lea_r32_m, Register.EAX, new MemoryOperand(Register.RBX, Register.RSI, 2, -5, 1)));
        Add("misc", "Lea_r16(rbx+rsi+0x70)", Instruction.Create(Code.Lea_r16_m, Register.AX, new MemoryOperand(Register.RBX, Register.RSI, 1, 0x70, 1)));
        Add("misc", "Lea_r64(ebx+esi*2-5)", Instruction.Create(Code.Lea_r64_m, Register.RAX, new MemoryOperand(Register.EBX, Register.ESI, 2, -5, 1)));
        Add("misc", "Lea_r32(ebx+esi*8+0x7FFFFFFF)", Instruction.Create(Code.Lea_r32_m, Register.EAX, new MemoryOperand(Register.EBX, Register.ESI, 8, 0x7FFF_FFFF, 4)));
        foreach (var code in new[] { Code.Cbw, Code.Cwde, Code.Cdqe, Code.Cwd, Code.Cdq, Code.Cqo, Code.Lahf, Code.Sahf, Code.Clc, Code.Stc, Code.Cmc })
            Add("misc", code.ToString(), Instruction.Create(code));

        // ---- Memory operands of the fast micro-op forms ----
        foreach (var op in new[] { "Add", "Or", "Adc", "Sbb", "And", "Sub", "Xor", "Cmp" })
            Add("memory", $"{op}_r32_m32", Instruction.Create(C($"{op}_r32_rm32"), Register.EBX, Mem), memory: true);
        Add("memory", "Test_m32_imm32", Instruction.Create(Code.Test_rm32_imm32, Mem, 0x1234), ImmediateCases, memory: true);
        Add("memory", "Test_m8_r8", Instruction.Create(Code.Test_rm8_r8, Mem, Register.SIL), memory: true);
        Add("memory", "Cmp_m16_r16", Instruction.Create(Code.Cmp_rm16_r16, Mem, Register.SI), memory: true);
        Add("memory", "Adc_m32_imm8", Instruction.Create(Code.Adc_rm32_imm8, Mem, -7), ImmediateCases, memory: true);
        Add("memory", "Sbb_m64_r64", Instruction.Create(Code.Sbb_rm64_r64, Mem, Register.RSI), memory: true);
        Add("memory", "Xor_m16_imm16", Instruction.Create(Code.Xor_rm16_imm16, Mem, 0x8001), ImmediateCases, memory: true);
        Add("memory", "Mov_m8_r8(sil)", Instruction.Create(Code.Mov_rm8_r8, Mem, Register.SIL), memory: true);
        Add("memory", "Mov_m16_r16", Instruction.Create(Code.Mov_rm16_r16, Mem, Register.SI), memory: true);
        Add("memory", "Mov_m8_imm8", Instruction.Create(Code.Mov_rm8_imm8, Mem, 0x9C), ImmediateCases, memory: true);
        Add("memory", "Movzx_r32_m8", Instruction.Create(Code.Movzx_r32_rm8, Register.EBX, new MemoryOperand(Register.R15, MemoryOffset + 5)), memory: true);
        Add("memory", "Movzx_r64_m16", Instruction.Create(Code.Movzx_r64_rm16, Register.RBX, Mem), memory: true);
        Add("memory", "Movsx_r32_m8", Instruction.Create(Code.Movsx_r32_rm8, Register.EBX, Mem), memory: true);
        Add("memory", "Movsx_r64_m16", Instruction.Create(Code.Movsx_r64_rm16, Register.RBX, new MemoryOperand(Register.R15, MemoryOffset + 6)), memory: true);
        Add("memory", "Movsxd_r64_m32", Instruction.Create(Code.Movsxd_r64_rm32, Register.RBX, Mem), memory: true);
        Add("memory", "Cmovne_r64_m64", Instruction.Create(Code.Cmovne_r64_rm64, Register.RBX, Mem), ConditionCases, memory: true);
        Add("memory", "Cmovb_r32_m32", Instruction.Create(Code.Cmovb_r32_rm32, Register.EBX, Mem), ConditionCases, memory: true);
        Add("memory", "Setl_rm8(sil)", Instruction.Create(Code.Setl_rm8, Register.SIL), ConditionCases);
        Add("memory", "Movsx_r64_rm8(sil)", Instruction.Create(Code.Movsx_r64_rm8, Register.RBX, Register.SIL));
        Add("memory", "Movzx_r32_rm8(r10l)", Instruction.Create(Code.Movzx_r32_rm8, Register.EBX, Register.R10L));

        // ---- LOCK-prefixed read-modify-writes: host atomics when aligned, the global lock when split ----
        static Instruction Locked(Instruction ins)
        {
            ins.HasLockPrefix = true;
            return ins;
        }
        var unaligned = new MemoryOperand(Register.R15, MemoryOffset + 3);
        Add("locked", "Lock_Add_m32_r32", Locked(Instruction.Create(Code.Add_rm32_r32, Mem, Register.ESI)), memory: true);
        Add("locked", "Lock_Sub_m64_r64", Locked(Instruction.Create(Code.Sub_rm64_r64, Mem, Register.RSI)), memory: true);
        Add("locked", "Lock_Or_m64_imm8", Locked(Instruction.Create(Code.Or_rm64_imm8, Mem, -0x10)), ImmediateCases, memory: true);
        Add("locked", "Lock_And_m32_r32", Locked(Instruction.Create(Code.And_rm32_r32, Mem, Register.ESI)), memory: true);
        Add("locked", "Lock_Xor_m8_r8", Locked(Instruction.Create(Code.Xor_rm8_r8, Mem, Register.SIL)), memory: true);
        Add("locked", "Lock_Adc_m32_imm8", Locked(Instruction.Create(Code.Adc_rm32_imm8, Mem, 0x7F)), ImmediateCases, memory: true);
        Add("locked", "Lock_Sbb_m16_r16", Locked(Instruction.Create(Code.Sbb_rm16_r16, Mem, Register.SI)), memory: true);
        Add("locked", "Lock_Inc_m16", Locked(Instruction.Create(Code.Inc_rm16, Mem)), memory: true);
        Add("locked", "Lock_Dec_m8", Locked(Instruction.Create(Code.Dec_rm8, Mem)), memory: true);
        Add("locked", "Lock_Neg_m64", Locked(Instruction.Create(Code.Neg_rm64, Mem)), memory: true);
        Add("locked", "Lock_Not_m32", Locked(Instruction.Create(Code.Not_rm32, Mem)), memory: true);
        Add("locked", "Lock_Xadd_m64_r64", Locked(Instruction.Create(Code.Xadd_rm64_r64, Mem, Register.RSI)), memory: true);
        Add("locked", "Lock_Xadd_m16_r16", Locked(Instruction.Create(Code.Xadd_rm16_r16, Mem, Register.SI)), memory: true);
        Add("locked", "Lock_Cmpxchg_m32_r32", Locked(Instruction.Create(Code.Cmpxchg_rm32_r32, Mem, Register.ESI)), memory: true, fix: SometimesEqual(0, MemorySlot));
        Add("locked", "Lock_Cmpxchg_m8_r8", Locked(Instruction.Create(Code.Cmpxchg_rm8_r8, Mem, Register.SIL)), memory: true, fix: SometimesEqual(0, MemorySlot));
        Add("locked", "Xchg_m64_r64", Instruction.Create(Code.Xchg_rm64_r64, Mem, Register.RSI), memory: true);
        Add("locked", "Xchg_m8_r8", Instruction.Create(Code.Xchg_rm8_r8, Mem, Register.SIL), memory: true);
        Add("locked", "Lock_Add_m32_r32(unaligned)", Locked(Instruction.Create(Code.Add_rm32_r32, unaligned, Register.ESI)), memory: true);
        Add("locked", "Lock_Cmpxchg_m64_r64(unaligned)", Locked(Instruction.Create(Code.Cmpxchg_rm64_r64, unaligned, Register.RSI)), memory: true);

        // ---- Sequences: flags that a later instruction of the same block overwrites, reads or leaves alone ----
        Add("sequence", "xorshift-then-add", Instruction.Create(Code.Add_rm64_r64, Register.RSI, Register.RDX), before:
        [
            Instruction.Create(Code.Mov_rm64_r64, Register.RDX, Register.RBX), Instruction.Create(Code.Shl_rm64_imm8, Register.RDX, 13),
            Instruction.Create(Code.Xor_rm64_r64, Register.RBX, Register.RDX), Instruction.Create(Code.Mov_rm64_r64, Register.RDX, Register.RBX),
            Instruction.Create(Code.Shr_rm64_imm8, Register.RDX, 7), Instruction.Create(Code.Xor_rm64_r64, Register.RDX, Register.RBX),
            Instruction.Create(Code.Lea_r64_m, Register.RCX, new MemoryOperand(Register.RDX, Register.RDX, 2, 0, 0)),
            Instruction.Create(Code.Sar_rm64_imm8, Register.RCX, 11), Instruction.Create(Code.Add_rm64_imm8, Register.RCX, 1),
        ]);
        // ROR writes only CF and OF (OF undefined for counts above 1): SF, ZF, AF and PF are still those of the ADD.
        Add("sequence", "add-rol-ror", Instruction.Create(Code.Ror_rm32_imm8, Register.EBX, 3), undefined: 0x800, before:
            [Instruction.Create(Code.Add_rm32_r32, Register.ESI, Register.EBX), Instruction.Create(Code.Rol_rm32_imm8, Register.EBX, 7)]);
        Add("sequence", "sub-rol1", Instruction.Create(Code.Rol_rm64_1, Register.RSI, 1), before:
            [Instruction.Create(Code.Sub_rm64_r64, Register.RBX, Register.RSI), Instruction.Create(Code.Ror_rm64_imm8, Register.RSI, 9)]);
        // INC and DEC keep CF: it comes from the ADD between them.
        Add("sequence", "inc-add-dec", Instruction.Create(Code.Dec_rm32, Register.EBX), before:
            [Instruction.Create(Code.Inc_rm32, Register.EBX), Instruction.Create(Code.Add_rm64_r64, Register.RSI, Register.RBX)]);
        // A shift by CL of 0 writes no flags: they are the SUB's.
        Add("sequence", "sub-shl-cl", Instruction.Create(Code.Shl_rm32_CL, Register.EBX, Register.CL), fix: CountInCl(32), before:
            [Instruction.Create(Code.Sub_rm64_r64, Register.RBX, Register.RSI)]);
        Add("sequence", "cmp-adc-sbb", Instruction.Create(Code.Sbb_rm32_r32, Register.EBX, Register.ECX), before:
            [Instruction.Create(Code.Cmp_rm64_r64, Register.RBX, Register.RSI), Instruction.Create(Code.Adc_rm64_imm8, Register.RSI, 5)]);
        Add("sequence", "test-cmp-setl", Instruction.Create(Code.Setl_rm8, Register.DL), before:
            [Instruction.Create(Code.Test_rm64_r64, Register.RBX, Register.RBX), Instruction.Create(Code.Cmp_rm32_imm8, Register.ESI, 7)]);
        Add("sequence", "add-inc-setb", Instruction.Create(Code.Setb_rm8, Register.CL), before:
            [Instruction.Create(Code.Add_rm64_r64, Register.RBX, Register.RSI), Instruction.Create(Code.Inc_rm64, Register.RSI)]);
        // SAR leaves AF undefined; ROL by 1 then writes CF and OF only.
        Add("sequence", "sar-rol1", Instruction.Create(Code.Rol_rm64_1, Register.RSI, 1), undefined: 0x10, before:
            [Instruction.Create(Code.Xor_rm32_r32, Register.ESI, Register.EBX), Instruction.Create(Code.Sar_rm64_imm8, Register.RBX, 5)]);
        Add("sequence", "cmov-after-dead-flags", Instruction.Create(Code.Cmovg_r64_rm64, Register.RBX, Register.RSI), ConditionCases, before:
            [Instruction.Create(Code.Shl_rm32_imm8, Register.ESI, 3), Instruction.Create(Code.Cmp_rm64_r64, Register.RBX, Register.RSI)]);

        // ---- BMI1, BMI2, MOVBE (when the host has them) ----
        if (Bmi1.IsSupported)
        {
            foreach (int s in new[] { 4, 8 })
            {
                int b = Bits(s);
                Add("bmi", $"Andn_r{b}", Instruction.Create(C($"VEX_Andn_r{b}_r{b}_rm{b}"), Dst[s], Src[s], s == 4 ? Register.R9D : Register.R9));
                Add("bmi", $"Bextr_r{b}", Instruction.Create(C($"VEX_Bextr_r{b}_rm{b}_r{b}"), Dst[s], Src[s], s == 4 ? Register.ECX : Register.RCX), fix: SmallControl(1));
                Add("bmi", $"Blsi_r{b}", Instruction.Create(C($"VEX_Blsi_r{b}_rm{b}"), Dst[s], Src[s]), fix: SometimesZero(6));
                Add("bmi", $"Blsmsk_r{b}", Instruction.Create(C($"VEX_Blsmsk_r{b}_rm{b}"), Dst[s], Src[s]), fix: SometimesZero(6));
                Add("bmi", $"Blsr_r{b}", Instruction.Create(C($"VEX_Blsr_r{b}_rm{b}"), Dst[s], Src[s]), fix: SometimesZero(6));
            }
        }
        if (Bmi2.IsSupported)
        {
            foreach (int s in new[] { 4, 8 })
            {
                int b = Bits(s);
                Register third = s == 4 ? Register.ECX : Register.RCX;
                Add("bmi", $"Bzhi_r{b}", Instruction.Create(C($"VEX_Bzhi_r{b}_rm{b}_r{b}"), Dst[s], Src[s], third), fix: SmallControl(1));
                Add("bmi", $"Pdep_r{b}", Instruction.Create(C($"VEX_Pdep_r{b}_r{b}_rm{b}"), Dst[s], Src[s], third));
                Add("bmi", $"Pext_r{b}", Instruction.Create(C($"VEX_Pext_r{b}_r{b}_rm{b}"), Dst[s], Src[s], third));
                Add("bmi", $"Sarx_r{b}", Instruction.Create(C($"VEX_Sarx_r{b}_rm{b}_r{b}"), Dst[s], Src[s], third));
                Add("bmi", $"Shlx_r{b}", Instruction.Create(C($"VEX_Shlx_r{b}_rm{b}_r{b}"), Dst[s], Src[s], third));
                Add("bmi", $"Shrx_r{b}", Instruction.Create(C($"VEX_Shrx_r{b}_rm{b}_r{b}"), Dst[s], Src[s], third));
                Add("bmi", $"Mulx_r{b}", Instruction.Create(C($"VEX_Mulx_r{b}_r{b}_rm{b}"), Dst[s], Src[s], third));
                Add("bmi", $"Mulx_r{b}(same)", Instruction.Create(C($"VEX_Mulx_r{b}_r{b}_rm{b}"), Dst[s], Dst[s], third));
                foreach (int imm in new[] { 0, 5, b - 1, b + 3 })
                    Add("bmi", $"Rorx_r{b}({imm})", Instruction.Create(C($"VEX_Rorx_r{b}_rm{b}_imm8"), Dst[s], Src[s], imm), ImmediateCases);
            }
            Add("bmi", "Shlx_r64_m64", Instruction.Create(Code.VEX_Shlx_r64_rm64_r64, Register.RBX, Mem, Register.RCX), memory: true);
        }
        if (HostHasMovbe())
        {
            foreach (int s in new[] { 2, 4, 8 })
            {
                int b = Bits(s);
                Add("bmi", $"Movbe_r{b}_m{b}", Instruction.Create(C($"Movbe_r{b}_m{b}"), Dst[s], Mem), memory: true);
                Add("bmi", $"Movbe_m{b}_r{b}", Instruction.Create(C($"Movbe_m{b}_r{b}"), Mem, Src[s]), memory: true);
            }
        }
        return forms;
    }

    private static bool HostHasMovbe() => X86Base.IsSupported && (X86Base.CpuId(1, 0).Ecx & (1 << 22)) != 0;

    /// <summary>CL gets a count from 0 to twice the width (the interesting range), or any byte.</summary>
    private static Fixup CountInCl(int bits, int limit = -1) => (r, s) =>
    {
        int count = r.Next(4) == 0 ? r.Next(256) : r.Next(0, bits * 2 + 3);
        if (limit >= 0 && (count & 31) > limit) count = r.Next(0, limit + 1);
        s[1] = (s[1] & ~0xFFUL) | (uint)count;
    };

    /// <summary>A register (by slot) becomes zero in a fifth of the cases.</summary>
    private static Fixup SometimesZero(int slot) => (r, s) =>
    {
        if (r.Next(5) == 0) s[slot] = r.Next(2) == 0 ? 0 : s[slot] & ~0xFFFF_FFFFUL;
    };

    /// <summary>Half of the cases make the two slots equal (CMPXCHG success).</summary>
    private static Fixup SometimesEqual(int a, int b) => (r, s) =>
    {
        if (r.Next(2) == 0) s[b] = s[a];
    };

    /// <summary>BEXTR/BZHI control in a register slot: small start and length bytes so the boundaries get hit.</summary>
    private static Fixup SmallControl(int slot) => (r, s) =>
    {
        if (r.Next(4) == 0) return;
        ulong start = (ulong)r.Next(0, 72), length = (ulong)r.Next(0, 72);
        s[slot] = (s[slot] & ~0xFFFFUL) | start | (length << 8);
    };

    /// <summary>A bit-string offset in [-128, 192) bits, so a memory BT stays inside the state record.</summary>
    private static Fixup BitOffsetIn(int slot, int size) => (r, s) =>
    {
        long offset = r.Next(-128, 192);
        // Only the operand-size bits of the offset register count: above them anything may be set.
        s[slot] = size == 8 ? (ulong)offset : (s[slot] & ~Mask(size)) | ((ulong)offset & Mask(size));
    };

    /// <summary>Regenerates a DIV/IDIV input until it does not fault (the host would take SIGFPE).</summary>
    private static Fixup NoDivideFault(int size, bool signed, int divisorSlot, Register divisor) => (r, s) =>
    {
        for (int attempt = 0; ; attempt++)
        {
            if (!DivideFaults(s, size, signed, divisorSlot, divisor)) return;
            if (attempt > 20)
            {
                SetDivisor(s, divisorSlot, divisor, 1);
                SetHigh(s, size, signed ? (((long)GetLow(s, size) << (64 - size * 8)) < 0 ? ulong.MaxValue : 0) : 0);
                return;
            }
            switch (r.Next(3))
            {
                case 0: SetDivisor(s, divisorSlot, divisor, RandomValue(r)); break;
                case 1: SetHigh(s, size, signed ? (((long)GetLow(s, size) << (64 - size * 8)) < 0 ? ulong.MaxValue : 0) : (ulong)r.Next(0, 3)); break;
                default:
                {
                    ulong d = GetDivisor(s, divisorSlot, divisor, size);
                    if (!signed && d != 0) SetHigh(s, size, GetHigh(s, size) % d);
                    else SetHigh(s, size, RandomValue(r) & 1);
                    break;
                }
            }
        }
    };

    private static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    private static ulong GetLow(Span<ulong> s, int size) => size == 1 ? s[0] & 0xFF : s[0] & Mask(size);

    private static ulong GetHigh(Span<ulong> s, int size) => size == 1 ? (s[0] >> 8) & 0xFF : s[2] & Mask(size);

    private static void SetHigh(Span<ulong> s, int size, ulong value)
    {
        if (size == 1) s[0] = (s[0] & ~0xFF00UL) | ((value & 0xFF) << 8);
        else s[2] = (s[2] & ~Mask(size)) | (value & Mask(size));
    }

    private static ulong GetDivisor(Span<ulong> s, int slot, Register reg, int size) =>
        reg is Register.AH or Register.CH or Register.DH or Register.BH ? (s[slot] >> 8) & 0xFF : s[slot] & Mask(size);

    private static void SetDivisor(Span<ulong> s, int slot, Register reg, ulong value)
    {
        if (reg is Register.AH or Register.CH or Register.DH or Register.BH) s[slot] = (s[slot] & ~0xFF00UL) | ((value & 0xFF) << 8);
        else s[slot] = value;
    }

    private static bool DivideFaults(Span<ulong> s, int size, bool signed, int slot, Register reg)
    {
        int bits = size * 8;
        ulong mask = Mask(size);
        ulong d = GetDivisor(s, slot, reg, size);
        // The divisor register may be part of the dividend (DIV DH with AX): read after any change, as the CPU does.
        if (d == 0) return true;
        ulong lo = GetLow(s, size), hi = GetHigh(s, size);
        if (!signed)
        {
            UInt128 dividend = ((UInt128)hi << bits) | lo;
            return dividend / d > mask;
        }
        UInt128 raw = ((UInt128)hi << bits) | lo;
        Int128 sd = bits == 64 ? (Int128)raw : (Int128)(long)((ulong)raw << (64 - 2 * bits)) >> (64 - 2 * bits);
        if (bits == 32) sd = (long)(ulong)raw;
        long sv = (long)(d << (64 - bits)) >> (64 - bits);
        if (sv == -1 && sd == Int128.MinValue) return true;
        Int128 q = sd / sv;
        Int128 min = -(Int128.One << (bits - 1)), max = (Int128.One << (bits - 1)) - 1;
        return q < min || q > max;
    }
}
