using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Dispatch.Memory;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.Differential;

/// <summary>Adjusts a generated input state (registers, flags, memory) so that it suits the form (e.g. a divide that does not fault).</summary>
internal delegate void Fixup(Random random, Span<ulong> state);

/// <summary>
/// One instruction form to compare: the instruction with its operands fixed; inputs vary. <paramref name="Before"/> are
/// instructions run first in the same block (the compared flags are then those <paramref name="Instruction"/> leaves),
/// to check what happens to flags that a later instruction overwrites.
/// </summary>
internal sealed record InstructionForm(string Name, string Category, Instruction Instruction, int Cases, bool UsesMemory = false, Fixup? Fix = null, ulong ExtraUndefined = 0, Instruction[]? Before = null)
{
    public override string ToString() => Name;
}

/// <summary>
/// Runs one instruction form on the host CPU and in the interpreter from the same random inputs and compares every
/// general-purpose register, the memory operand and every status flag the instruction does not leave undefined.
/// <para>Both sides run the same stub: load RFLAGS and the GPRs (all but RSP) from a state record, execute the
/// instruction, store them back. Natively the stub is called once per record; in the guest a driver loop calls it for
/// every record of a table in guest memory, so one run covers all cases.</para>
/// </summary>
internal static unsafe class DifferentialHarness
{
    /// <summary>State record: 16 GPRs by encoding number, RFLAGS, then three qwords of memory operand (the operand is the first).</summary>
    public const int Slots = 20;
    public const int FlagsSlot = 16, MemorySlot = 17;
    public const int MemoryOffset = MemorySlot * 8;
    public const ulong TableAddress = 0x20_0000;
    public const ulong StatusFlags = 0x8D5;

    public static int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("DISPATCH_DIFF_SEED"), out int s) ? s : 0x5EED_2025;

    private static readonly double Scale = double.TryParse(Environment.GetEnvironmentVariable("DISPATCH_DIFF_SCALE"), System.Globalization.CultureInfo.InvariantCulture, out double d) ? d : 1.0;

    private static readonly AssemblerRegister64[] Gprs = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];

    private static readonly string[] GprNames = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

    /// <summary>Compares the form on host and interpreter; returns null when they agree, else a report with seed and inputs.</summary>
    public static string? Compare(InstructionForm form)
    {
        int cases = Math.Max(16, (int)(form.Cases * Scale));
        int seed = Seed ^ StableHash(form.Name);
        var random = new Random(seed);
        var inputs = new ulong[cases * Slots];
        for (int c = 0; c < cases; c++)
        {
            var state = inputs.AsSpan(c * Slots, Slots);
            for (int i = 0; i < Slots; i++) state[i] = RandomValue(random);
            state[4] = 0;
            state[FlagsSlot] = ((ulong)random.NextInt64() & StatusFlags) | 2;
            form.Fix?.Invoke(random, state);
        }

        var native = (ulong[])inputs.Clone();
        using (var code = new NativeCode(AssembleStub(form)))
        {
            fixed (ulong* p = native)
                for (int c = 0; c < cases; c++) code.Call(p + c * Slots);
        }

        var guest = (ulong[])inputs.Clone();
        string? guestError = RunInGuest(form, guest, cases);
        if (guestError is not null) return $"{form.Name} (seed 0x{Seed:X}, form seed 0x{seed:X}): {guestError}";

        ulong flagMask = StatusFlags & ~ToRflags(form.Instruction.RflagsUndefined) & ~form.ExtraUndefined;
        var report = new StringBuilder();
        int failures = 0;
        for (int c = 0; c < cases; c++)
        {
            int o = c * Slots;
            var diffs = new List<string>();
            for (int i = 0; i < 16; i++)
            {
                if (i == 4 || (form.UsesMemory && i == 15)) continue;
                if (native[o + i] != guest[o + i]) diffs.Add($"{GprNames[i]} host 0x{native[o + i]:X} interp 0x{guest[o + i]:X}");
            }
            ulong nf = native[o + FlagsSlot] & flagMask, gf = guest[o + FlagsSlot] & flagMask;
            if (nf != gf) diffs.Add($"flags host {FlagString(nf)} interp {FlagString(gf)} (compared {FlagString(flagMask)})");
            for (int i = MemorySlot; i < Slots; i++)
                if (native[o + i] != guest[o + i]) diffs.Add($"mem+{(i - MemorySlot) * 8} host 0x{native[o + i]:X} interp 0x{guest[o + i]:X}");
            if (diffs.Count == 0) continue;
            if (++failures <= 4)
            {
                report.Append($"\n  case {c}: inputs {Describe(inputs.AsSpan(o, Slots))}\n    ");
                report.AppendJoin("\n    ", diffs);
            }
        }
        if (failures == 0) return null;
        return $"{form.Name} `{form.Instruction}`: {failures}/{cases} cases differ (seed 0x{Seed:X}, form seed 0x{seed:X}; DISPATCH_DIFF_SEED overrides):{report}";
    }

    private static string? RunInGuest(InstructionForm form, ulong[] table, int cases)
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            var stub = a.CreateLabel();
            var loop = a.CreateLabel();
            a.mov(r12, TableAddress);
            a.mov(r13d, cases);
            a.Label(ref loop);
            a.mov(rdi, r12);
            a.call(stub);
            a.add(r12, Slots * 8);
            a.dec(r13d);
            a.jne(loop);
            a.hlt();
            a.Label(ref stub);
            EmitStub(a, form);
        });
        using (vm)
        {
            var bytes = MemoryMarshal.AsBytes(table.AsSpan());
            vm.Memory.Write(new GuestPhysicalAddress(TableAddress), bytes);
            var handler = new RecordingHandler { OnExit = _ => ExitAction.Stop };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = cases * 200L + 1000 });
            var last = handler.Exits.Count > 0 ? handler.Exits[^1] : default;
            if (handler.Exits.Count == 0 || last.Reason.Basic != Vmx.ExitReason.Hlt)
            {
                long index = (long)(vcpu.Registers.R12 - TableAddress) / (Slots * 8);
                return $"guest did not reach HLT: {result.Outcome}, exit {last.Reason.Basic} vector {last.Interruption.Vector} at 0x{last.Rip:X}, case {index}";
            }
            vm.Memory.Read(new GuestPhysicalAddress(TableAddress), bytes);
        }
        return null;
    }

    private static byte[] AssembleStub(InstructionForm form)
    {
        var a = new Assembler(64);
        EmitStub(a, form);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        return stream.ToArray();
    }

    private static void EmitStub(Assembler a, InstructionForm form)
    {
        // Only the registers the instruction uses (explicitly or implicitly) are loaded and stored, which keeps the
        // stub short; the others stay at their inputs in the record.
        var used = new bool[16];
        var factory = new InstructionInfoFactory();
        foreach (var ins in (form.Before ?? []).Append(form.Instruction))
            foreach (var u in factory.GetInfo(ins).GetUsedRegisters())
                if (u.Register.IsGPR()) used[u.Register.GetFullRegister() - Register.RAX] = true;
        if (form.UsesMemory) used[15] = false;
        var saved = new List<AssemblerRegister64>();
        foreach (int i in new[] { 3, 5, 12, 13, 14, 15 })
            if (used[i] || (i == 15 && form.UsesMemory)) saved.Add(Gprs[i]);
        foreach (var r in saved) a.push(r);
        a.push(rdi);
        a.push(__qword_ptr[rdi + FlagsSlot * 8]);
        a.popfq();
        for (int i = 0; i < 16; i++)
            if (used[i] && i is not (4 or 7)) a.mov(Gprs[i], __qword_ptr[rdi + i * 8]);
        if (form.UsesMemory) a.mov(r15, rdi);
        if (used[7]) a.mov(rdi, __qword_ptr[rdi + 7 * 8]);
        foreach (var ins in form.Before ?? []) a.AddInstruction(ins);
        a.AddInstruction(form.Instruction);
        a.pushfq();
        a.push(rdi);
        a.mov(rdi, __qword_ptr[rsp + 16]);
        for (int i = 0; i < 16; i++)
            if (used[i] && i is not (4 or 7)) a.mov(__qword_ptr[rdi + i * 8], Gprs[i]);
        if (used[7]) a.pop(__qword_ptr[rdi + 7 * 8]);
        else a.add(rsp, 8);
        a.pop(__qword_ptr[rdi + FlagsSlot * 8]);
        a.pop(rdi);
        for (int i = saved.Count - 1; i >= 0; i--) a.pop(saved[i]);
        a.ret();
    }

    private static readonly ulong[] Edges =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FF80, 0xFFFF_FFFF_FFFF_8000,
        0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_FFFF_FFFE,
    ];

    /// <summary>Random 64-bit values biased towards the edges of every operand width.</summary>
    public static ulong RandomValue(Random r)
    {
        ulong v;
        switch (r.Next(10))
        {
            case 0: case 1: case 2: return (ulong)r.NextInt64() ^ ((ulong)r.Next() << 63);
            case 3: case 4: case 5:
            {
                v = Edges[r.Next(Edges.Length)];
                int width = 8 << r.Next(4);
                if (width == 64) return v;
                ulong low = v & ((1UL << width) - 1);
                ulong high = r.Next(3) switch { 0 => 0, 1 => ulong.MaxValue, _ => (ulong)r.NextInt64() };
                return (high << width) | low;
            }
            case 6: case 7: return (ulong)r.Next(0, 72);
            default:
            {
                v = 1UL << r.Next(64);
                return r.Next(3) switch { 0 => v, 1 => v - 1, _ => 0 - v };
            }
        }
    }

    /// <summary>Iced's flag bits to RFLAGS bit positions.</summary>
    public static ulong ToRflags(RflagsBits bits)
    {
        ulong f = 0;
        if ((bits & RflagsBits.CF) != 0) f |= 1UL << 0;
        if ((bits & RflagsBits.PF) != 0) f |= 1UL << 2;
        if ((bits & RflagsBits.AF) != 0) f |= 1UL << 4;
        if ((bits & RflagsBits.ZF) != 0) f |= 1UL << 6;
        if ((bits & RflagsBits.SF) != 0) f |= 1UL << 7;
        if ((bits & RflagsBits.DF) != 0) f |= 1UL << 10;
        if ((bits & RflagsBits.OF) != 0) f |= 1UL << 11;
        return f;
    }

    private static string FlagString(ulong f)
    {
        var sb = new StringBuilder();
        if ((f & 0x800) != 0) sb.Append("O");
        if ((f & 0x80) != 0) sb.Append("S");
        if ((f & 0x40) != 0) sb.Append("Z");
        if ((f & 0x10) != 0) sb.Append("A");
        if ((f & 0x4) != 0) sb.Append("P");
        if ((f & 0x1) != 0) sb.Append("C");
        return sb.Length == 0 ? "-" : sb.ToString();
    }

    private static string Describe(Span<ulong> s)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i++)
            if (i != 4) sb.Append($"{GprNames[i]}=0x{s[i]:X} ");
        sb.Append($"flags={FlagString(s[FlagsSlot])} mem=0x{s[MemorySlot]:X},0x{s[MemorySlot + 1]:X},0x{s[MemorySlot + 2]:X}");
        return sb.ToString();
    }

    private static int StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char ch in s) h = (h ^ ch) * 16777619;
        return (int)h;
    }

    internal static int PopCount(ulong v) => BitOperations.PopCount(v);
}
