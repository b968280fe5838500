namespace Dispatch.Cli;

/// <summary>What <c>dispatch run</c> was asked to do.</summary>
public sealed record RunCommandOptions(FileInfo? FlatImage, int MemoryMiB, bool Stats, long? MaxInstructions)
{
    /// <summary>A static Linux executable to run, or null for the demo or a flat image.</summary>
    public string? Program { get; init; }

    /// <summary>The program's arguments (argv[1..]).</summary>
    public IReadOnlyList<string> ProgramArguments { get; init; } = [];

    /// <summary>Print every system call of a Linux program to standard error.</summary>
    public bool TraceSyscalls { get; init; }

    /// <summary>Whether --memory was given (Linux programs otherwise get up to 4 GiB, allocated as they touch it).</summary>
    public bool MemoryGiven { get; init; }
}
