using System.Diagnostics;
using System.Text;

namespace Dispatch.EndToEnd.Tests.Packaging;

/// <summary>What one <c>dotnet</c> invocation printed and returned.</summary>
internal sealed record DotnetRun(string Command, int ExitCode, string Output, TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"dotnet {Command} -> exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s\n{Output}";
}

/// <summary>
/// Runs the <c>dotnet</c> host as a child process with a timeout. Build servers are kept off so that no long-lived
/// process inherits the output pipes (a reused MSBuild node or compiler server would keep them open after the build).
/// </summary>
internal static class DotnetCli
{
    // Set by the parent dotnet/MSBuild for its own use; a child dotnet must locate its SDK by itself.
    private static readonly string[] InheritedMsBuildVariables =
        ["MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly", "MSBUILDNOINPROCNODE"];

    public static string HostPath { get; } = FindHost();

    /// <summary>The directory of the dotnet installation (the host with any symbolic link resolved).</summary>
    public static string RootDirectory =>
        Path.GetDirectoryName(new FileInfo(HostPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? HostPath)!;

    public static DotnetRun Run(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(HostPath)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in InheritedMsBuildVariables) start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        if (environment is not null)
            foreach (var (name, value) in environment) start.Environment[name] = value;

        var output = new StringBuilder();
        var command = string.Join(' ', arguments);
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        DataReceivedEventHandler append = (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
        };
        process.OutputDataReceived += append;
        process.ErrorDataReceived += append;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
            lock (output)
                throw new TimeoutException($"dotnet {command} did not finish within {timeout.TotalSeconds:F0} s:\n{output}");
        }
        process.WaitForExit(); // drains the redirected output
        lock (output)
            return new DotnetRun(command, process.ExitCode, output.ToString(), stopwatch.Elapsed);
    }

    private static string FindHost()
    {
        string executable = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            return host;
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, executable);
            if (File.Exists(candidate)) return candidate;
        }
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, executable)))
            return Path.Combine(root, executable);
        throw new InvalidOperationException("No dotnet host: set DOTNET_HOST_PATH or put dotnet on PATH.");
    }
}
