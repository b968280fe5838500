using System.Diagnostics;
using CsCheck;
using Dispatch.Testing;
using Xunit.Abstractions;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// Random bytes as guest code never hurt the host: every run ends in an exit a handler stopped on, a halt, or the
/// instruction budget; never an engine failure, an escaping exception or a hang. Failing inputs found here are kept in
/// <see cref="HostileGuestCorpus"/> and replayed on every run.
/// </summary>
public sealed class HostileGuestPropertyTests(ITestOutputHelper output)
{
    // The same cases on every run (see FixedSample); DISPATCH_SAMPLE_STREAM explores others.
    private const uint Stream = 1;

    private static readonly Gen<ulong> Register = Gen.Frequency(
        (3, Gen.ULong),
        (3, Gen.ULong[0, HostileGuest.MemorySize]),
        (1, Gen.ULong[ulong.MaxValue - 0x10000, ulong.MaxValue]),
        (1, Gen.Const(0UL)));

    private static readonly Gen<byte[]> Idt = Gen.Frequency(
        (1, Gen.Byte.Array[4096]),
        // Mostly well-formed interrupt gates into the random code, so delivery itself gets exercised.
        (3, Gen.Select(Gen.ULong[0, 255].Array[32], Gen.Int[0, 3].Array[32], (targets, dpls) =>
        {
            var idt = new byte[32 * 16];
            for (int v = 0; v < 32; v++)
            {
                ulong handler = HostileGuest.CodeAddress + targets[v];
                ulong low = (handler & 0xFFFF) | ((ulong)Guests.LongModeGuest.KernelCodeSelector << 16)
                    | ((0x8EUL | ((ulong)dpls[v] << 5)) << 40) | (((handler >> 16) & 0xFFFF) << 48);
                BitConverter.TryWriteBytes(idt.AsSpan(v * 16), low);
                BitConverter.TryWriteBytes(idt.AsSpan(v * 16 + 8), handler >> 32);
            }
            return idt;
        })));

    // Prefixes that change how an x87/SIMD instruction reads its operands: operand size, REP/REPNE (mandatory prefixes),
    // REX.W/REX.B, address size, segment overrides, LOCK.
    private static readonly Gen<byte> Prefix = Gen.OneOf<byte>(0x66, 0xF2, 0xF3, 0x48, 0x41, 0x4C, 0x67, 0x2E, 0x64, 0x65, 0xF0);

    // One instruction from the x87 (D8-DF) or 0F/0F38/0F3A maps with random prefixes, ModR/M and trailing bytes: uniform
    // random bytes reach these forms rarely (an FNSTENV with an operand-size prefix took tens of thousands of cases).
    private static readonly Gen<byte[]> FloatingPointInstruction =
        from prefixes in Prefix.Array[0, 3]
        from escape in Gen.Int[0, 3]
        from x87 in Gen.Byte[0xD8, 0xDF]
        from opcode in Gen.Byte
        from modrm in Gen.Byte
        from tail in Gen.Byte.Array[0, 6]
        select prefixes.Concat(escape switch
        {
            0 => new[] { x87 },
            1 => new byte[] { 0x0F, opcode },
            2 => new byte[] { 0x0F, 0x38, opcode },
            _ => new byte[] { 0x0F, 0x3A, opcode },
        }).Append(modrm).Concat(tail).ToArray();

    private static readonly Gen<byte[]> Code = Gen.Frequency(
        (3, Gen.Byte.Array[1, 256]),
        (1, FloatingPointInstruction.Array[1, 24].Select(parts => parts.SelectMany(p => p).ToArray())));

    private static readonly Gen<HostileCase> Cases =
        from code in Code
        from registers in Register.Array[16]
        from cpl in Gen.Int[0, 1].Select(i => i * 3)
        from exceptionsExit in Gen.Bool
        from idt in Idt
        from handlerSeed in Gen.Int
        select new HostileCase(code, registers, cpl, exceptionsExit, exceptionsExit ? null : idt, handlerSeed);

    [Fact]
    public async Task Random_code_ends_architecturally()
    {
        var clock = Stopwatch.StartNew();
        long runs = 0, slowest = 0;
        HostileCase? current = null;
        // Starts at now, not 0: until the sampling thread picks its first case, the watchdog would see a run "started"
        // at timestamp 0 and call it a hang (it did, on a loaded machine, before any case had run).
        long currentStarted = Stopwatch.GetTimestamp();
        var sample = Task.Factory.StartNew(() => FixedSample.Check(Cases, c =>
        {
            Volatile.Write(ref currentStarted, Stopwatch.GetTimestamp());
            Volatile.Write(ref current, c);
            var result = HostileGuest.Run(c, out _);
            slowest = Math.Max(slowest, (long)Stopwatch.GetElapsedTime(Volatile.Read(ref currentStarted)).TotalMilliseconds);
            Interlocked.Increment(ref runs);
            if (!HostileGuest.IsArchitectural(result.Outcome))
                throw new Exception($"{result} (exception: {result.Exception})");
        }, Iterations, Stream, c => c.ToString()),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        // One run is bounded by its budget and a 2 s timeout; one that takes far longer is a hang.
        while (!sample.IsCompleted)
        {
            await Task.WhenAny(sample, Task.Delay(200));
            if (!sample.IsCompleted && Stopwatch.GetElapsedTime(Volatile.Read(ref currentStarted)) > TimeSpan.FromSeconds(15))
                Assert.Fail($"A guest run did not return in 15 s (a hang) after {Interlocked.Read(ref runs)} runs. Input:\n{Volatile.Read(ref current)}");
        }
        await sample;
        output.WriteLine($"{runs} hostile guests in {clock.Elapsed.TotalSeconds:F1} s; slowest {slowest} ms");
    }

    private static long Iterations => long.TryParse(Environment.GetEnvironmentVariable("DISPATCH_HOSTILE_ITERATIONS"), out long n) ? n : 8_000;

    public static TheoryData<string> Corpus => [.. HostileGuestCorpus.Cases.Keys];

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Corpus_case_ends_architecturally(string name)
    {
        var c = HostileGuestCorpus.Cases[name];
        var result = await Watchdog.Within(TimeSpan.FromSeconds(30), () => HostileGuest.Run(c, out _), () => name);
        Assert.True(HostileGuest.IsArchitectural(result.Outcome), $"{name}: {result} {result.Exception}");
    }
}
