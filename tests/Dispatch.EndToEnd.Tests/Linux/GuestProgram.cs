using System.Diagnostics;
using System.Text;
using Dispatch.Cli.Linux;

namespace Dispatch.EndToEnd.Tests.Linux;

/// <summary>What a program printed and how it ended.</summary>
public sealed record ProgramRun(byte[] Stdout, byte[] Stderr, int ExitStatus, string Diagnostics = "")
{
    public string StdoutText => Encoding.UTF8.GetString(Stdout);
    public string StderrText => Encoding.UTF8.GetString(Stderr);
}

/// <summary>Compiles the C programs under Linux/Programs with gcc at test time and runs them natively and as guests.</summary>
public static class GuestProgram
{
    private static readonly string WorkDirectory = Directory.CreateTempSubdirectory("dispatch-linux-tests-").FullName;
    private static readonly Dictionary<string, string> Built = [];
    private static readonly Lock Gate = new();

    public const string FreestandingFlags = "-static -nostdlib -O2 -mgeneral-regs-only -fno-stack-protector -fno-builtin";

    public static string Source(string name) => Path.Combine(AppContext.BaseDirectory, "Linux", "Programs", name);

    public static bool CompilerExists(string compiler) =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, compiler)));

    /// <summary>
    /// Builds <paramref name="source"/> once per compiler, flags and libraries (linked after the source, as static linking
    /// needs); returns the executable's path.
    /// </summary>
    public static string Build(string source, string compiler = "gcc", string flags = "-static -O2", string libraries = "")
    {
        string key = $"{source}|{compiler}|{flags}|{libraries}";
        lock (Gate)
        {
            if (Built.TryGetValue(key, out var built)) return built;
            string output = Path.Combine(WorkDirectory, $"{Path.GetFileNameWithoutExtension(source)}-{compiler}-{Built.Count}");
            var (_, err, status) = Run(compiler,
                [.. flags.Split(' '), "-o", output, Source(source), .. libraries.Split(' ', StringSplitOptions.RemoveEmptyEntries)], WorkDirectory);
            if (status != 0) throw new InvalidOperationException($"{compiler} {flags} {source} failed: {Encoding.UTF8.GetString(err)}");
            Built[key] = output;
            return output;
        }
    }

    public static string WriteFile(string name, string contents)
    {
        string path = Path.Combine(WorkDirectory, name);
        File.WriteAllText(path, contents);
        return path;
    }

    public static string WriteFile(string name, byte[] contents)
    {
        string path = Path.Combine(WorkDirectory, name);
        File.WriteAllBytes(path, contents);
        return path;
    }

    public static ProgramRun RunNative(string program, params string[] args)
    {
        var (stdout, stderr, status) = Run(program, args, WorkDirectory);
        return new ProgramRun(stdout, stderr, status);
    }

    /// <summary>Runs the program under the VMM through the library API, with its standard streams captured.</summary>
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromMinutes(3);

    public static ProgramRun RunGuest(string program, params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var diagnostics = new StringWriter();
        string cwd = Directory.GetCurrentDirectory();
        // The instruction budget bounds computing, not waiting: a guest whose threads all wait for ever (a defect in
        // the futexes or the scheduler) fails the test instead of hanging the run.
        var run = Task.Factory.StartNew(() => LinuxRunner.Run(new LinuxRunRequest
        {
            Program = program,
            Arguments = args,
            StandardInput = new MemoryStream(),
            StandardOutput = stdout,
            StandardError = stderr,
            MaxInstructions = 2_000_000_000,
        }, diagnostics), TaskCreationOptions.LongRunning);
        if (!run.Wait(GuestTimeout))
            throw new TimeoutException($"{Path.GetFileName(program)} {string.Join(' ', args)} did not finish in {GuestTimeout.TotalSeconds} s");
        return new ProgramRun(stdout.ToArray(), stderr.ToArray(), run.Result, diagnostics.ToString());
    }

    private static (byte[] Stdout, byte[] Stderr, int Status) Run(string file, IEnumerable<string> args, string cwd)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = cwd,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var copyErr = process.StandardError.BaseStream.CopyToAsync(stderr);
        process.StandardOutput.BaseStream.CopyTo(stdout);
        copyErr.Wait();
        process.WaitForExit();
        return (stdout.ToArray(), stderr.ToArray(), process.ExitCode);
    }
}
