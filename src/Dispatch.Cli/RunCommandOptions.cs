namespace Dispatch.Cli;

/// <summary>What <c>dispatch run</c> was asked to do.</summary>
public sealed record RunCommandOptions(FileInfo? FlatImage, int MemoryMiB, bool Stats, long? MaxInstructions);
