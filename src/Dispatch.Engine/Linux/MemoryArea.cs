namespace Dispatch.Linux;

/// <summary>Page protections as mmap takes them.</summary>
[Flags]
public enum Protection
{
    None = 0,
    Read = 1,
    Write = 2,
    Execute = 4,
}

/// <summary>A range of the process's address space with one protection (Linux's VMA): pages in it appear on first touch.</summary>
public sealed record MemoryArea(ulong Start, ulong End, Protection Protection, string Name)
{
    public ulong Length => End - Start;

    public bool Contains(ulong address) => address >= Start && address < End;
}
