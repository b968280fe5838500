namespace Dispatch.Linux;

/// <summary>How to start a Linux process in a fresh virtual machine.</summary>
public sealed record LinuxProcessOptions
{
    /// <summary>The executable (its absolute path is what /proc/self/exe reads as).</summary>
    public required string ProgramPath { get; init; }

    /// <summary>argv, including argv[0].</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>envp as NAME=value strings. Null: the host process's environment.</summary>
    public IReadOnlyList<string>? Environment { get; init; }

    /// <summary>Standard streams as .NET streams; a null one is the host's descriptor 0, 1 or 2.</summary>
    public Stream? StandardInput { get; init; }
    public Stream? StandardOutput { get; init; }
    public Stream? StandardError { get; init; }

    /// <summary>Where the VMM reports unimplemented calls and guest faults (not the guest's own stderr).</summary>
    public TextWriter? Diagnostics { get; init; }

    /// <summary>strace-like output: one line per system call with its arguments and result.</summary>
    public TextWriter? Trace { get; init; }

    /// <summary>Most guest-physical memory the process may use, page tables included.</summary>
    public ulong MemoryLimit { get; init; } = 4UL << 30;

    /// <summary>Stack size reserved below the initial stack pointer.</summary>
    public ulong StackSize { get; init; } = 8UL << 20;
}
