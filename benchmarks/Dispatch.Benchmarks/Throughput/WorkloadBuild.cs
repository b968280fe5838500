using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;

namespace Dispatch.Benchmarks.Throughput;

/// <summary>
/// Builds <c>workloads.c</c> with the machine's gcc: a flat guest image (linked at 0x100000, entry first) and a native
/// shared library from the same source and flags, cached in a temporary folder keyed by the source's hash.
/// </summary>
public static class WorkloadBuild
{
    public const string Flags = "-O2 -ffreestanding -nostdlib -mno-sse -mno-mmx -mno-red-zone";
    private static (string Image, string Library)? s_built;
    private static readonly object s_lock = new();

    public static bool GccAvailable(out string reason)
    {
        try
        {
            var (code, output) = Exec("gcc", "--version", Path.GetTempPath());
            reason = code == 0 ? "" : $"gcc --version exited with {code}: {output}";
            return code == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            reason = "gcc is not installed (it compiles the guest workloads).";
            return false;
        }
    }

    public static (string Image, string Library) Build()
    {
        lock (s_lock)
        {
            if (s_built is { } built) return built;
            string source = Resource("workloads.c"), script = Resource("guest.ld");
            string hash = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(source + script + Flags)))[..16];
            string dir = Path.Combine(Path.GetTempPath(), $"dispatch-workloads-{hash}");
            string image = Path.Combine(dir, "guest.bin"), library = Path.Combine(dir, "libworkloads.so");
            if (!File.Exists(image) || !File.Exists(library))
            {
                string work = Path.Combine(Path.GetTempPath(), $"dispatch-workloads-{hash}-{Environment.ProcessId}");
                Directory.CreateDirectory(work);
                File.WriteAllText(Path.Combine(work, "workloads.c"), source);
                File.WriteAllText(Path.Combine(work, "guest.ld"), script);
                Run("gcc", $"{Flags} -fno-pic -no-pie -static -DDISPATCH_GUEST -T guest.ld -Wl,--build-id=none -o guest.elf workloads.c", work);
                Run("objcopy", "-O binary guest.elf guest.bin", work);
                Run("gcc", $"{Flags} -fPIC -shared -o libworkloads.so workloads.c", work);
                // Publish the finished pair atomically so concurrent benchmark processes never see half a build.
                try { Directory.Move(work, dir); }
                catch (IOException) when (Directory.Exists(dir)) { Directory.Delete(work, recursive: true); }
            }
            s_built = (image, library);
            return s_built.Value;
        }
    }

    private static string Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        return new StreamReader(stream).ReadToEnd();
    }

    private static void Run(string file, string arguments, string directory)
    {
        var (code, output) = Exec(file, arguments, directory);
        if (code != 0) throw new InvalidOperationException($"{file} {arguments} failed ({code}):\n{output}");
    }

    private static (int Code, string Output) Exec(string file, string arguments, string directory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
