using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// Every implemented x87/MMX/SSE form, register and memory operand, run in the interpreter and natively on the host from
/// the same random records (NaNs, denormals, infinities, signed zeros, every rounding mode, DAZ/FTZ, x87 precision and
/// unmasked x87 exceptions); all results, MXCSR, FSW/FCW/FTW, flags, general registers and memory must agree.
/// </summary>
public sealed class HostDifferentialTests(ITestOutputHelper output)
{
    private const int Seed = 20250611;
    private const int RecordsPerForm = 24;
    private const ulong RecordBase = 0x20_0000;

    [Fact]
    public void AllImplementedForms_MatchTheHostProcessor()
    {
        if (!OperatingSystem.IsLinux() || !System.Runtime.Intrinsics.X86.Sse42.IsSupported) return;
        var random = new Random(Seed);
        var failures = new List<string>();
        int forms = 0;
        var watch = Stopwatch.StartNew();
        foreach (var (name, instruction) in InstructionForms.All(random))
        {
            forms++;
            string? failure = CompareForm(name, instruction, random.Next());
            if (failure is not null) failures.Add(failure);
            if (failures.Count >= 15) break;
        }
        output.WriteLine($"{forms} forms in {watch.Elapsed.TotalSeconds:F1} s");
        Assert.True(failures.Count == 0, $"seed {Seed}, {failures.Count} failing forms:\n" + string.Join("\n", failures));
        Assert.True(forms > 400, $"only {forms} forms");
    }

    private static string? CompareForm(string name, Instruction instruction, int seed)
    {
        var random = new Random(seed);
        var records = new byte[RecordsPerForm * Record.Size];
        for (int i = 0; i < RecordsPerForm; i++) RecordInputs.Fill(random, records.AsSpan(i * Record.Size, Record.Size));
        var expected = (byte[])records.Clone();
        var native = new NativeRecordRunner(instruction);
        for (int i = 0; i < RecordsPerForm; i++) native.Run(expected.AsSpan(i * Record.Size, Record.Size));

        var (vm, vcpu) = TestGuest.Create(a =>
        {
            var loop = a.CreateLabel();
            a.mov(r15, RecordBase);
            a.mov(r14, RecordsPerForm);
            a.Label(ref loop);
            Record.Emit(a, instruction);
            a.add(r15, Record.Size);
            a.dec(r14);
            a.jnz(loop);
            a.hlt();
        });
        using (vm)
        {
            vm.Memory.Write(new GuestPhysicalAddress(RecordBase), records);
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler);
            var last = handler.Exits.Count > 0 ? handler.Exits[^1] : default;
            if (result.Outcome != RunOutcome.Stopped || last.Reason.Basic != ExitReason.Hlt)
                return $"{name} (seed {seed}): guest stopped with {result} {last.Reason.Basic} vector {last.Interruption.Vector} at {last.Rip:X}";
            var actual = new byte[records.Length];
            vm.Memory.Read(new GuestPhysicalAddress(RecordBase), actual);
            for (int i = 0; i < RecordsPerForm; i++)
            {
                string? diff = Diff(expected, actual, i * Record.Size);
                if (diff is not null)
                    return $"{name} (seed {seed}, record {i}): {diff}\n  input: {Convert.ToHexString(records, i * Record.Size, 1024)}";
            }
        }
        return null;
    }

    /// <summary>Compares outputs; FOP/FIP/FDP (host addresses natively), MXCSR_MASK and reserved bytes are left out.</summary>
    private static string? Diff(byte[] expectedArray, byte[] actualArray, int start)
    {
        var sb = new StringBuilder();
        void Check(string what, int offset, int length)
        {
            var expected = expectedArray.AsSpan(start, Record.Size);
            var actual = actualArray.AsSpan(start, Record.Size);
            if (!expected.Slice(offset, length).SequenceEqual(actual.Slice(offset, length)))
                sb.Append($" {what}: expected {Convert.ToHexString(expected.Slice(offset, length))} actual {Convert.ToHexString(actual.Slice(offset, length))};");
        }
        int o = Record.OutImage;
        Check("FCW/FSW/FTW", o, 5);
        Check("MXCSR", o + 24, 4);
        for (int i = 0; i < 8; i++) Check($"ST{i}", o + 32 + 16 * i, 10);
        for (int i = 0; i < 16; i++) Check($"XMM{i}", o + 160 + 16 * i, 16);
        for (int i = 0; i < 7; i++) Check(Record.Gprs[i].ToString() ?? "gpr", Record.GprOut + 8 * i, 8);
        ulong fe = BinaryPrimitives.ReadUInt64LittleEndian(expectedArray.AsSpan(start)[(Record.GprOut + 56)..]) & 0x8D5;
        ulong fa = BinaryPrimitives.ReadUInt64LittleEndian(actualArray.AsSpan(start)[(Record.GprOut + 56)..]) & 0x8D5;
        if (fe != fa) sb.Append($" flags: expected {fe:X} actual {fa:X};");
        Check("memory", Record.Memory, Record.MemorySize);
        return sb.Length == 0 ? null : sb.ToString();
    }
}
