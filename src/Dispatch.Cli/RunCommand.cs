using Dispatch.Cli.Demo;
using Dispatch.Cli.Flat;
using Dispatch.Devices;

namespace Dispatch.Cli;

/// <summary><c>dispatch run</c>: the demo guest, or a flat image.</summary>
public static class RunCommand
{
    public static int Execute(RunCommandOptions options, TextWriter output, TextWriter error)
    {
        if (options.FlatImage is not null) return FlatImageRunner.Run(options, output, error);
        return RunDemo(options, output, error);
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
