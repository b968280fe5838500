using System.Diagnostics;
using System.Security;
using Xunit.Abstractions;

namespace Dispatch.EndToEnd.Tests.Packaging;

/// <summary>
/// Uses the freshly packed packages the way a user does: projects from <c>tests/PackageConsumers</c>, copied next to a
/// NuGet.config that adds the local feed to the machine's own sources, restored into an empty packages folder.
/// </summary>
[Collection(PackagingCollection.Name)]
[Trait("Category", "Packaging")]
public sealed class PackageConsumptionTests(PackedPackagesFixture packages, ITestOutputHelper output)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);

    [Fact]
    public void Consumer_referencing_only_the_package_builds_runs_its_generated_handlers_and_prints_the_guest_output()
    {
        var consumers = PrepareConsumers();
        var project = Path.Combine(consumers.Directory, "Consumer");

        var build = Dotnet(consumers, project, PackedPackagesFixture.StepTimeout,
            "build", "-c", "Release", "--packages", consumers.Packages, $"-p:DispatchVersion={packages.Version}", "--disable-build-servers");
        Assert.True(build.Succeeded, build.ToString());
        Assert.DoesNotContain("DSPCFG0001", build.Output);

        var run = Dotnet(consumers, project, RunTimeout, Path.Combine(project, "bin", "Release", "net10.0", "Consumer.dll"));
        Assert.True(run.Succeeded, run.ToString());
        Assert.Contains("serial: Hi!", run.Output);
        Assert.Contains("outcome: Stopped", run.Output);
        Assert.Contains("io exits: 3", run.Output);

        // Restored from this run's feed into the isolated folder, never from a cache.
        Assert.True(Directory.Exists(Path.Combine(consumers.Packages, "dispatch.vmm", packages.Version)));
        Assert.True(Directory.Exists(Path.Combine(consumers.Packages, "dispatch.vmx", packages.Version)));
    }

    [Fact]
    public void Consumer_with_two_handlers_for_one_reason_fails_to_build_with_DSP0001()
    {
        var consumers = PrepareConsumers();
        var project = Path.Combine(consumers.Directory, "ConsumerWithMistake");

        var build = Dotnet(consumers, project, PackedPackagesFixture.StepTimeout,
            "build", "-c", "Release", "--no-incremental", "--packages", consumers.Packages, $"-p:DispatchVersion={packages.Version}", "--disable-build-servers");

        Assert.False(build.Succeeded, build.ToString());
        Assert.Contains("error DSP0001", build.Output);
    }

    [Fact]
    public void Package_build_targets_warn_when_the_compiler_is_older_than_the_generator_needs()
    {
        var consumers = PrepareConsumers();
        var project = Path.Combine(consumers.Directory, "Consumer");

        // No older compiler here: raising the minimum checks that the compiler's version is read and the warning fires.
        var build = Dotnet(consumers, project, PackedPackagesFixture.StepTimeout,
            "build", "-c", "Release", "--packages", consumers.Packages, $"-p:DispatchVersion={packages.Version}",
            "-p:_DispatchMinimumRoslynVersion=999.0", "--disable-build-servers");

        Assert.True(build.Succeeded, build.ToString());
        Assert.Contains("warning DSPCFG0001", build.Output);
    }

    [Fact]
    public void Tool_installs_from_the_feed_and_runs()
    {
        var consumers = PrepareConsumers();
        var tools = Path.Combine(consumers.Directory, "tools");

        var install = Dotnet(consumers, consumers.Directory, PackedPackagesFixture.StepTimeout,
            "tool", "install", "Dispatch.Vmm.Cli", "--version", packages.Version, "--tool-path", tools, "--add-source", packages.Feed);
        Assert.True(install.Succeeded, install.ToString());

        var command = Path.Combine(tools, OperatingSystem.IsWindows() ? "dispatch.exe" : "dispatch");
        Assert.True(File.Exists(command), $"no '{command}' after:\n{install}");
        var help = Run(command, consumers.Directory, "--help");
        Assert.True(help.Succeeded, help.ToString());
    }

    private sealed record Consumers(string Directory, string Packages, IReadOnlyDictionary<string, string> Environment);

    /// <summary>A fresh copy of the consumers, a NuGet.config adding the feed, and an empty packages folder, for one test.</summary>
    private Consumers PrepareConsumers()
    {
        Assert.True(packages.Pack.Succeeded, packages.Pack.ToString());
        var directory = Path.Combine(packages.Root, "consumers-" + Guid.NewGuid().ToString("N")[..8]);
        PackedPackagesFixture.CopyDirectory(Path.Combine(packages.RepositoryRoot, "tests", "PackageConsumers"), directory);

        // No <clear/>: the machine's sources (user and machine NuGet.config files) still supply the dependencies.
        File.WriteAllText(Path.Combine(directory, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="dispatch-under-test" value="{SecurityElement.Escape(packages.Feed)}" />
              </packageSources>
            </configuration>
            """);

        var packagesFolder = Path.Combine(directory, "packages");
        Directory.CreateDirectory(packagesFolder);
        // Also for commands without --packages (tool install): nothing lands in, or comes from, the user's global folder.
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = packagesFolder };
        return new Consumers(directory, packagesFolder, environment);
    }

    private DotnetRun Dotnet(Consumers consumers, string workingDirectory, TimeSpan timeout, params string[] arguments)
    {
        var run = DotnetCli.Run(workingDirectory, timeout, consumers.Environment, arguments);
        output.WriteLine($"dotnet {run.Command}: exit code {run.ExitCode}, {run.Elapsed.TotalSeconds:F1} s");
        return run;
    }

    private DotnetRun Run(string executable, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The tool's apphost finds the runtime through DOTNET_ROOT when dotnet is not in a default location.
        if (!start.Environment.ContainsKey("DOTNET_ROOT"))
            start.Environment["DOTNET_ROOT"] = DotnetCli.RootDirectory;
        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(RunTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{executable} did not finish within {RunTimeout.TotalSeconds:F0} s");
        }
        var run = new DotnetRun($"{Path.GetFileName(executable)} {string.Join(' ', arguments)}", process.ExitCode, stdout.Result + stderr.Result, stopwatch.Elapsed);
        output.WriteLine($"{run.Command}: exit code {run.ExitCode}, {run.Elapsed.TotalSeconds:F1} s");
        return run;
    }
}
