using Dispatch.Cli.Demo;
using Dispatch.Cli.Flat;
using Dispatch.Cli.Linux;
using Dispatch.Devices;

namespace Dispatch.Cli;

/// <summary><c>dispatch run</c>: the demo guest, a flat image, or a static Linux executable.</summary>
public static class RunCommand
{
    public static int Execute(RunCommandOptions options, TextWriter output, TextWriter error)
    {
        if (options.FlatImage is not null) return FlatImageRunner.Run(options, output, error);
        if (options.Program is not null) return RunLinux(options, output, error);
        return RunDemo(options, output, error);
    }

    private static int RunLinux(RunCommandOptions options, TextWriter output, TextWriter error)
    {
        // The guest writes its standard streams itself: to the host's descriptors when the caller passes the console,
        // otherwise to the given writers (as Latin-1, byte for byte).
        if (options.MemoryGiven && (options.MemoryMiB < 1 || options.MemoryMiB > Flat.FlatImageRunner.MaxMemoryMiB))
        {
            error.WriteLine($"dispatch: --memory must be between 1 and {Flat.FlatImageRunner.MaxMemoryMiB} MiB.");
            return 2;
        }
        bool console = output == Console.Out;
        output.Flush();
        var request = new LinuxRunRequest
        {
            Program = options.Program!,
            Arguments = options.ProgramArguments,
            TraceSyscalls = options.TraceSyscalls,
            Stats = options.Stats,
            MaxInstructions = options.MaxInstructions,
            MemoryLimit = options.MemoryGiven ? (ulong)options.MemoryMiB << 20 : 4UL << 30,
            StandardOutput = console ? null : new TextWriterStream(output),
            StandardError = error == Console.Error ? null : new TextWriterStream(error),
        };
        return LinuxRunner.Run(request, error);
    }

    private static int RunDemo(RunCommandOptions options, TextWriter output, TextWriter error)
    {
        var (vm, vcpu) = DemoGuest.Create();
        using (vm)
        {
            var serialBuffer = new MemoryStream();
            var handlers = new DemoHandlers(new SerialPort(serialBuffer));
            var result = vcpu.Run(ref handlers, new RunOptions { MeasureLatency = options.Stats, MaxInstructions = options.MaxInstructions ?? long.MaxValue });
            output.Write(System.Text.Encoding.ASCII.GetString(serialBuffer.ToArray()));
            output.WriteLine();
            ExitTable.Write(output, vcpu, options.Stats);
            if (result.Outcome != RunOutcome.Stopped)
            {
                error.WriteLine($"dispatch: the demo guest ended unexpectedly: {result}");
                return 1;
            }
            return 0;
        }
    }
}
