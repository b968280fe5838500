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
        var memory = new Option<int?>("--memory")
        {
            Description = "Guest memory in MiB (flat images: identity-mapped, default 64; Linux programs: the most they may use, default 4096).",
        };
        var stats = new Option<bool>("--stats")
        {
            Description = "Print exits by reason with handler latency, guest instructions and MIPS (and system calls by number).",
        };
        var maxInstructions = new Option<long?>("--max-instructions")
        {
            Description = "Stop the guest after this many instructions.",
        };
        var trace = new Option<bool>("--trace-syscalls")
        {
            Description = "Print every system call of a Linux program with its arguments and result to standard error.",
        };
        var program = new Argument<string?>("program")
        {
            Description = "A static x86-64 Linux executable to run; its exit status becomes dispatch's.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var programArguments = new Argument<string[]>("args")
        {
            Description = "Arguments passed to the program.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var run = new Command("run", "Run a guest. With a program, runs a static x86-64 Linux executable and prints what it prints; " +
            "with --flat, a raw image; without arguments, the built-in demo guest.")
        {
            flat, memory, stats, maxInstructions, trace, program, programArguments,
        };
        // Everything after the program belongs to the program, options included.
        run.TreatUnmatchedTokensAsErrors = true;
        run.SetAction(parse =>
        {
            int? memoryMiB = parse.GetValue(memory);
            var options = new RunCommandOptions(
                parse.GetValue(flat),
                memoryMiB ?? 64,
                parse.GetValue(stats),
                parse.GetValue(maxInstructions))
            {
                Program = parse.GetValue(program),
                ProgramArguments = parse.GetValue(programArguments) ?? [],
                TraceSyscalls = parse.GetValue(trace),
                MemoryGiven = memoryMiB is not null,
            };
            return RunCommand.Execute(options, Console.Out, Console.Error);
        });
        return new RootCommand("dispatch: run guests on the Dispatch software VT-x and see their VM exits.") { run };
    }
}
