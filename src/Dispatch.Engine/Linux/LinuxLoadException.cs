namespace Dispatch.Linux;

/// <summary>The program cannot be loaded: not an ELF file, not a static x86-64 executable, or inconsistent headers.</summary>
public sealed class LinuxLoadException(string message) : Exception(message);
