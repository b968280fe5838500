using CsCheck;
using Dispatch.Testing;
using Dispatch.Vmx;
using Iced.Intel;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// Random values in writable VMCS fields (controls, guest state, host state) lead to VMfailValid, a VM-entry failure
/// exit delivered to the handler, or a run that ends architecturally; never an exception escaping the model or an
/// engine failure.
/// </summary>
public sealed class BadVmcsPropertyTests(ITestOutputHelper output)
{
    // The same cases on every run (see FixedSample); DISPATCH_SAMPLE_STREAM explores others.
    private const uint Stream = 1;

    private static readonly VmcsField[] Writable = [.. Enum.GetValues<VmcsField>()
        .Where(f => f.Type() != VmcsFieldType.ExitInformation)
        .Distinct()];

    // A value for a field: anything, or a small change to the valid value (one bit flipped), which reaches deeper checks.
    private static readonly Gen<(int Field, bool FlipBit, ulong Value)> Corruption =
        Gen.Select(Gen.Int[0, Writable.Length - 1], Gen.Bool, Gen.Frequency((2, Gen.ULong), (1, Gen.ULong[0, 0xFFFF]), (1, Gen.ULong[0, 63])));

    private static readonly Gen<(int Field, bool FlipBit, ulong Value)[]> Corruptions = Corruption.Array[1, 6];

    private static void Program(Assembler a)
    {
        var loop = a.CreateLabel();
        a.Label(ref loop);
        a.cpuid();
        a.inc(rbx);
        a.mov(__qword_ptr[0x9000], rbx);
        a.@out(dx, al);
        a.cmp(rbx, 20);
        a.jb(loop);
        a.hlt();
    }

    private static RunResult Run((int Field, bool FlipBit, ulong Value)[] corruptions, out List<RecordedExit> exits)
    {
        var (vm, vcpu) = TestGuest.Create(Program, memory: 2 << 20);
        using (vm)
        {
            foreach (var (index, flip, value) in corruptions)
            {
                var field = Writable[index];
                vcpu.Vmcs.Write(field, flip ? vcpu.Vmcs.Read(field) ^ (1UL << (int)(value & 63)) : value);
            }
            int count = 0;
            var handler = new RecordingHandler { OnExit = e => ++count >= 50 || e.Reason.IsEntryFailure || e.Reason.Basic is ExitReason.Hlt or ExitReason.TripleFault ? ExitAction.Stop : ExitAction.Complete };
            var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = 5_000, Timeout = TimeSpan.FromSeconds(2) });
            exits = handler.Exits;
            return result;
        }
    }

    /// <summary>
    /// A VM exit whose MSR areas cannot be processed ends in a VMX abort (SDM 28.7): an architectural outcome of a bad VMCS,
    /// reported as <see cref="RunOutcome.VmxAbort"/> with a <see cref="VmxAbortException"/>. Any engine failure is a defect.
    /// </summary>
    private static bool IsVmxAbort(RunResult result) => result.Outcome == RunOutcome.VmxAbort && result.Exception is VmxAbortException;

    private static string Describe((int Field, bool FlipBit, ulong Value)[] corruptions) =>
        string.Join("; ", corruptions.Select(c => $"{Writable[c.Field]} {(c.FlipBit ? $"^= bit {c.Value & 63}" : $"= 0x{c.Value:X}")}"));

    [Fact]
    public async Task Random_field_values_fail_entry_or_run_architecturally()
    {
        var outcomes = new Dictionary<string, int>();
        string? current = null;
        await Watchdog.Within(TimeSpan.FromSeconds(120), () => FixedSample.Check(Corruptions, corruptions =>
        {
            current = Describe(corruptions);
            var result = Run(corruptions, out var exits);
            string key = result.Outcome == RunOutcome.Stopped && exits.Count > 0 && exits[^1].Reason.IsEntryFailure ? "entry-failure exit" : result.Outcome.ToString();
            lock (outcomes) outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            if (IsVmxAbort(result)) key = "VMX abort";
            bool fine = result.Outcome is RunOutcome.EntryFailed or RunOutcome.Stopped or RunOutcome.Halted or RunOutcome.BudgetExhausted
                || IsVmxAbort(result);
            if (!fine) throw new Exception($"{result}: {result.Exception}");
        }, iterations: 3_000, Stream, Describe),
            () => current ?? "");
        foreach (var (k, v) in outcomes.OrderByDescending(p => p.Value)) output.WriteLine($"{v,6} {k}");
        Assert.True(outcomes.ContainsKey("EntryFailed") && outcomes.ContainsKey("entry-failure exit"));
    }

    [Fact]
    public void Every_writable_field_alone_takes_any_value()
    {
        ulong[] values = [0, ulong.MaxValue, 0x8000_0000_0000_0000, 0xFFFF_FFFF, 1, 0xFFFF_FFFF_FFFF_F000];
        for (int i = 0; i < Writable.Length; i++)
            foreach (ulong v in values)
            {
                var result = Run([(i, false, v)], out _);
                Assert.True(result.Outcome == RunOutcome.VmxAbort ? IsVmxAbort(result) : result.Outcome is not (RunOutcome.EngineFailed or RunOutcome.HandlerFailed),
                    $"{Writable[i]} = 0x{v:X}: {result} {result.Exception}");
            }
    }
}
