using System.Diagnostics;
using System.Globalization;
using Dispatch.Linux;

namespace Dispatch.Cli.Linux;

/// <summary>What to run and how: the program, its arguments, and where its standard streams and the VMM's reports go.</summary>
public sealed record LinuxRunRequest
{
    public required string Program { get; init; }
    public IReadOnlyList<string> Arguments { get; init; } = [];
    public bool TraceSyscalls { get; init; }
    public bool Stats { get; init; }
    public long? MaxInstructions { get; init; }
    public ulong MemoryLimit { get; init; } = 4UL << 30;
    public IReadOnlyList<string>? Environment { get; init; }

    /// <summary>The guest's standard streams; null ones are the host's descriptors 0, 1 and 2.</summary>
    public Stream? StandardInput { get; init; }
    public Stream? StandardOutput { get; init; }
    public Stream? StandardError { get; init; }
}

/// <summary>
/// <c>dispatch run program [args...]</c>: runs a static x86-64 Linux executable and returns its exit status. The VMM's own
/// messages (load errors, faults, unimplemented calls, the trace and statistics) go to <c>diagnostics</c>.
/// </summary>
public static class LinuxRunner
{
    public static int Run(LinuxRunRequest request, TextWriter diagnostics)
    {
        LinuxProcess process;
        try
        {
            process = LinuxProcess.Start(new LinuxProcessOptions
            {
                ProgramPath = request.Program,
                Arguments = [request.Program, .. request.Arguments],
                Environment = request.Environment,
                StandardInput = request.StandardInput,
                StandardOutput = request.StandardOutput,
                StandardError = request.StandardError,
                Diagnostics = diagnostics,
                Trace = request.TraceSyscalls ? diagnostics : null,
                MemoryLimit = request.MemoryLimit,
            });
        }
        catch (LinuxLoadException e)
        {
            diagnostics.WriteLine($"dispatch: {e.Message}");
            return 126;
        }
        using (process)
        {
            var options = new RunOptions
            {
                MaxInstructions = request.MaxInstructions ?? long.MaxValue,
                MeasureLatency = request.Stats,
            };
            var clock = Stopwatch.StartNew();
            RunResult result;
            try
            {
                // Each thread of the program is a vCPU with its own generated dispatcher over the same process.
                result = process.Run(vcpu =>
                {
                    var handlers = new LinuxHandlers(process);
                    return vcpu.Run(ref handlers, options);
                });
            }
            catch (Exception e)
            {
                // The run loop promises not to throw for guest behaviour; if the engine does, say where the guest was.
                diagnostics.WriteLine($"dispatch: {Path.GetFileName(request.Program)}: engine error {e.GetType().Name}: {e.Message}");
                return 125;
            }
            clock.Stop();
            if (process.EngineFailure is { } failure)
            {
                diagnostics.WriteLine($"dispatch: {Path.GetFileName(request.Program)}: {failure}");
                return 125;
            }
            request.StandardOutput?.Flush();
            request.StandardError?.Flush();
            if (request.Stats) WriteStats(diagnostics, process, clock.Elapsed);
            if (process.Failure is not null) diagnostics.WriteLine($"dispatch: {Path.GetFileName(request.Program)}: {process.Failure}");
            if (process.ExitStatus is { } status) return status;
            diagnostics.WriteLine($"dispatch: {Path.GetFileName(request.Program)}: the guest stopped without exiting: {result}");
            return 125;
        }
    }

    private static void WriteStats(TextWriter output, LinuxProcess process, TimeSpan elapsed)
    {
        // Every vCPU of the machine is one of the program's threads (or was: finished threads' vCPUs are reused).
        ExitTable.Write(output, process.Machine.VCpus, withLatency: true);
        output.WriteLine("System calls:");
        foreach (var (number, count) in process.Kernel.Counts().OrderByDescending(c => c.Count).ThenBy(c => c.Number))
            output.WriteLine($"  {SyscallTable.Name(number),-20} ({number,3})  {count.ToString(CultureInfo.InvariantCulture),10}");
        output.WriteLine($"  {"total",-26}  {process.Kernel.TotalCalls.ToString(CultureInfo.InvariantCulture),10}");
        double mips = process.Machine.VCpus.Sum(v => v.InstructionsRetired) / Math.Max(elapsed.TotalSeconds, 1e-9) / 1e6;
        output.WriteLine($"Wall time: {elapsed.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture)} ms, " +
            $"{mips.ToString("F1", CultureInfo.InvariantCulture)} MIPS, resident guest memory {process.Memory.ResidentBytes >> 10} KiB");
    }
}
