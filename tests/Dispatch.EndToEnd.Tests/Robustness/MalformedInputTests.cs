using CsCheck;
using Dispatch.Testing;
using Dispatch.Cli;
using Dispatch.Cli.Linux;
using Dispatch.EndToEnd.Tests.Linux;
using Xunit.Abstractions;

namespace Dispatch.EndToEnd.Tests.Robustness;

/// <summary>
/// Malformed programs, images and options get a clear message and a non-zero status, never a stack trace; system calls
/// given pointers to unmapped or huge ranges fail with EFAULT instead of faulting the host.
/// </summary>
public sealed class MalformedInputTests(ITestOutputHelper output)
{
    private static string ProgramSource(string name) => Path.Combine(AppContext.BaseDirectory, "Robustness", "Programs", name);

    private static readonly Lazy<string> StaticProgram = new(() => GuestProgram.Build("syscalls.c", flags: GuestProgram.FreestandingFlags));

    private static (int Status, string Out, string Error) Cli(RunCommandOptions options)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int status = RunCommand.Execute(options, stdout, stderr);
        return (status, stdout.ToString(), stderr.ToString());
    }

    private static (int Status, string Diagnostics) RunElf(string path, long maxInstructions = 5_000_000)
    {
        var diagnostics = new StringWriter();
        int status = LinuxRunner.Run(new LinuxRunRequest
        {
            Program = path,
            StandardInput = new MemoryStream(),
            StandardOutput = new MemoryStream(),
            StandardError = new MemoryStream(),
            MaxInstructions = maxInstructions,
            MemoryLimit = 256UL << 20,
        }, diagnostics);
        return (status, diagnostics.ToString());
    }

    private static void AssertNoStackTrace(string text) =>
        Assert.DoesNotMatch(@"\n\s+at [\w.]+\(|Unhandled exception", text);

    [Fact]
    public void System_calls_with_hostile_pointers_fail_with_EFAULT_as_natively()
    {
        string program = GuestProgram.Build(ProgramSource("hostile_syscalls.c"), flags: GuestProgram.FreestandingFlags);
        var native = GuestProgram.RunNative(program);
        var guest = GuestProgram.RunGuest(program);
        Assert.Equal(7, native.ExitStatus);
        Assert.Equal(7, guest.ExitStatus);
        AssertNoStackTrace(guest.Diagnostics);
        Assert.Equal(native.StdoutText, guest.StdoutText);
        Assert.Contains("write from top page = -14\n", guest.StdoutText);
        Assert.Contains("buffer intact = 1\n", guest.StdoutText);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(64 + 56 - 1)]
    [InlineData(200)]
    [InlineData(4096)]
    public void A_truncated_ELF_is_refused_with_a_message(int length)
    {
        byte[] image = File.ReadAllBytes(StaticProgram.Value);
        string path = GuestProgram.WriteFile($"truncated-{length}", image[..Math.Min(length, image.Length)]);
        var (status, diagnostics) = RunElf(path);
        Assert.NotEqual(0, status);
        Assert.StartsWith("dispatch: ", diagnostics);
        AssertNoStackTrace(diagnostics);
    }

    [Fact]
    public void A_file_that_is_not_an_ELF_and_a_missing_file_are_refused_by_the_CLI()
    {
        string text = GuestProgram.WriteFile("not-an-elf.sh", "#!/bin/sh\necho hi\n");
        foreach (string path in new[] { text, "/nonexistent/program", Path.GetTempPath() })
        {
            var (status, _, error) = Cli(new RunCommandOptions(null, 64, false, 1_000_000) { Program = path });
            Assert.NotEqual(0, status);
            Assert.StartsWith("dispatch: ", error);
            AssertNoStackTrace(error);
        }
    }

    // Corrupts the ELF header, the program headers or a random place: 1 to 8 bytes set to random or boundary values.
    private static readonly Gen<(int Offset, byte Value)[]> Mutations =
        Gen.Select(Gen.Frequency((3, Gen.Int[0, 63]), (3, Gen.Int[64, 64 + 56 * 8]), (1, Gen.Int[0, 1 << 20])),
                   Gen.Frequency((2, Gen.Byte), (1, Gen.Int[0, 3].Select(i => new byte[] { 0, 0xFF, 0x7F, 0x80 }[i]))))
            .Array[1, 8];

    [Fact]
    public async Task Corrupted_ELF_headers_never_produce_a_stack_trace()
    {
        byte[] original = File.ReadAllBytes(StaticProgram.Value);
        string path = GuestProgram.WriteFile("mutated-elf", original);
        int refused = 0, ran = 0;
        string? current = null;
        var sample = Task.Factory.StartNew(() => FixedSample.Check(Mutations, mutations =>
        {
            var image = (byte[])original.Clone();
            foreach (var (offset, value) in mutations)
                if (offset < image.Length) image[offset] = value;
            current = string.Join(", ", mutations.Select(m => $"[{m.Offset}]=0x{m.Value:X2}"));
            File.WriteAllBytes(path, image);
            var (status, diagnostics) = RunElf(path, maxInstructions: 2_000_000);
            AssertNoStackTrace(diagnostics);
            if (status is 126) Interlocked.Increment(ref refused);
            else Interlocked.Increment(ref ran);
            if (status == 125 && diagnostics.Contains("engine error")) throw new Exception($"engine error: {diagnostics}");
        }, iterations: 250, defaultStream: 1, m => string.Join(", ", m.Select(x => $"[{x.Offset}]=0x{x.Value:X2}"))),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await sample.WaitAsync(TimeSpan.FromSeconds(180));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"a corrupted ELF did not finish: {current}");
        }
        output.WriteLine($"{refused} refused by the loader, {ran} ran");
        Assert.True(refused > 0 && ran > 0);
    }

    // Mutations that once made the loader throw instead of refusing the file (offset=value pairs).
    [Theory]
    [InlineData("165=58,356=78,490=80,107=7B,23=D2,351=00,482=D5,834642=ED")]
    public void Corrupted_ELF_corpus_is_refused_or_runs(string mutations)
    {
        var image = File.ReadAllBytes(StaticProgram.Value);
        foreach (var pair in mutations.Split(','))
        {
            var parts = pair.Split('=');
            int offset = int.Parse(parts[0]);
            if (offset < image.Length) image[offset] = Convert.ToByte(parts[1], 16);
        }
        string path = GuestProgram.WriteFile($"corpus-{mutations.GetHashCode():X8}", image);
        var (status, diagnostics) = RunElf(path, maxInstructions: 2_000_000);
        AssertNoStackTrace(diagnostics);
        Assert.False(status == 125 && diagnostics.Contains("engine error"), diagnostics);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-5)]
    [InlineData(int.MaxValue)]
    [InlineData(64 * 1024 + 1)]
    public void Absurd_memory_sizes_for_a_flat_image_are_refused(int memoryMiB)
    {
        string image = GuestProgram.WriteFile("hlt.bin", new byte[] { 0xF4 });
        var (status, _, error) = Cli(new RunCommandOptions(new FileInfo(image), memoryMiB, false, 1000) { MemoryGiven = true });
        Assert.Equal(2, status);
        Assert.Contains("--memory", error);
        AssertNoStackTrace(error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(int.MaxValue)]
    public void Absurd_memory_sizes_for_a_program_are_refused(int memoryMiB)
    {
        var (status, _, error) = Cli(new RunCommandOptions(null, memoryMiB, false, 1_000_000) { Program = StaticProgram.Value, MemoryGiven = true });
        Assert.NotEqual(0, status);
        Assert.StartsWith("dispatch: ", error);
        AssertNoStackTrace(error);
    }

    [Fact]
    public void Empty_and_oversized_flat_images_are_refused()
    {
        string empty = GuestProgram.WriteFile("empty.bin", Array.Empty<byte>());
        string large = GuestProgram.WriteFile("large.bin", new byte[(3 << 20) + 1]);
        foreach (var (file, memory) in new[] { (empty, 4), (large, 4), (large, 2) })
        {
            var (status, _, error) = Cli(new RunCommandOptions(new FileInfo(file), memory, false, 1000) { MemoryGiven = true });
            Assert.Equal(2, status);
            Assert.StartsWith("dispatch: ", error);
            AssertNoStackTrace(error);
        }
        var (missing, _, missingError) = Cli(new RunCommandOptions(new FileInfo("/nonexistent.bin"), 4, false, 1000));
        Assert.Equal(2, missing);
        Assert.Contains("no such file", missingError);
    }

    [Fact]
    public void A_flat_image_of_random_bytes_ends_with_a_message()
    {
        var random = new Random(5);
        for (int i = 0; i < 20; i++)
        {
            var bytes = new byte[256];
            random.NextBytes(bytes);
            string file = GuestProgram.WriteFile($"random-{i}.bin", bytes);
            var (status, _, error) = Cli(new RunCommandOptions(new FileInfo(file), 4, false, 100_000));
            Assert.True(status is 0 or 1, $"status {status}: {error}");
            if (status != 0) Assert.StartsWith("dispatch: ", error);
            AssertNoStackTrace(error);
        }
    }
}
