namespace Dispatch.Memory;

/// <summary>One range of guest-physical memory backed by native, page-aligned host memory.</summary>
internal sealed unsafe class GuestMemoryRegion
{
    public GuestMemoryRegion(ulong start, ulong size, byte* host)
    {
        Start = start;
        Size = size;
        Host = host;
    }

    public ulong Start { get; }

    public ulong Size { get; }

    public ulong End => Start + Size;

    public byte* Host { get; }

    public bool Contains(ulong address, ulong length) =>
        address >= Start && length <= Size && address - Start <= Size - length;
}
