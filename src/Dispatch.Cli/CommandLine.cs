using System.CommandLine;

namespace Dispatch.Cli;

/// <summary>The <c>dispatch</c> command line.</summary>
public static class CommandLine
{
    public static RootCommand Build()
    {
        var flat = new Option<FileInfo?>("--flat")
        {
            Description = "Run a raw 64-bit image loaded at guest-physical 0x100000, started at its first byte in long mode at CPL 0.",
        };
        var memory = new Option<int>("--memory")
        {
            Description = "Guest memory in MiB (identity-mapped).",
            DefaultValueFactory = _ => 64,
        };
        var stats = new Option<bool>("--stats")
        {
            Description = "Print exits by reason with handler latency, guest instructions and MIPS.",
        };
        var maxInstructions = new Option<long?>("--max-instructions")
        {
            Description = "Stop the guest after this many instructions.",
        };
        var run = new Command("run", "Run a guest and print what it writes to the serial port, then its exits by reason. " +
            "Without arguments, runs the built-in demo guest.")
        {
            flat, memory, stats, maxInstructions,
        };
        run.SetAction(parse =>
        {
            var options = new RunCommandOptions(
                parse.GetValue(flat),
                parse.GetValue(memory),
                parse.GetValue(stats),
                parse.GetValue(maxInstructions));
            return RunCommand.Execute(options, Console.Out, Console.Error);
        });
        return new RootCommand("dispatch: run guests on the Dispatch software VT-x and see their VM exits.") { run };
    }
}
