using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dispatch.Memory;

/// <summary>
/// Guest-physical memory: regions of native, 4 KiB-aligned host memory outside the GC heap. Every access is bounds-checked
/// against the regions; an address no region backs is an MMIO hole (accesses to it fail and become exits). This is the only
/// type that holds raw pointers, and none of them leaves it except as a bounds-checked span.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    public const int PageSize = 4096;

    private GuestMemoryRegion[] _regions = [];
    private bool _disposed;
    // Runs in progress on vCPUs over this memory: their TLBs and decoded blocks hold host pointers into it, so the host
    // memory is released only when the last of them has returned (see Dispose).
    private int _activeRuns;
    private readonly Lock _lifetime = new();

    /// <summary>Creates guest memory with one RAM region of <paramref name="size"/> bytes at guest-physical 0.</summary>
    public GuestMemory(ulong size) => AddRegion(new GuestPhysicalAddress(0), size);

    public GuestMemory()
    {
    }

    /// <summary>Whether <see cref="Dispose"/> has been called (the host memory is released once no run uses it).</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Total bytes of RAM backed.</summary>
    public ulong TotalSize { get; private set; }

    /// <summary>Incremented on every write that may touch a page holding decoded code, for the decode cache.</summary>
    internal CodePageTracker CodePages { get; } = new();

    /// <summary>Backs <paramref name="size"/> bytes at <paramref name="start"/> with zeroed native memory.</summary>
    public void AddRegion(GuestPhysicalAddress start, ulong size)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (size == 0 || (size & (PageSize - 1)) != 0 || (start.Value & (PageSize - 1)) != 0)
            throw new ArgumentException("Regions are whole 4 KiB pages at a page-aligned address.", nameof(size));
        if (start.Value + size < start.Value)
            throw new ArgumentOutOfRangeException(nameof(size), "The region wraps the address space.");
        foreach (var r in _regions)
            if (start.Value < r.End && r.Start < start.Value + size)
                throw new ArgumentException($"The region overlaps the one at 0x{r.Start:X}.", nameof(start));
        byte* host = (byte*)NativeMemory.AlignedAlloc((nuint)size, PageSize);
        NativeMemory.Clear(host, (nuint)size);
        var regions = new List<GuestMemoryRegion>(_regions) { new(start.Value, size, host) };
        regions.Sort((a, b) => a.Start.CompareTo(b.Start));
        _regions = [.. regions];
        TotalSize += size;
    }

    /// <summary>Whether [address, address + length) lies entirely in RAM.</summary>
    public bool IsBacked(GuestPhysicalAddress address, ulong length = 1) => FindRegion(address.Value, length) is not null;

    /// <summary>A span over [address, address + length), which must lie inside one region.</summary>
    public Span<byte> GetSpan(GuestPhysicalAddress address, int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        var region = FindRegion(address.Value, (ulong)length)
            ?? throw new ArgumentOutOfRangeException(nameof(address), $"{address} + {length} is not backed by guest RAM.");
        return new Span<byte>(region.Host + (address.Value - region.Start), length);
    }

    /// <summary>Copies <paramref name="data"/> into guest memory; the range must lie inside one region (else nothing is written).</summary>
    public void Write(GuestPhysicalAddress address, ReadOnlySpan<byte> data)
    {
        data.CopyTo(GetSpan(address, data.Length));
        CodePages.NotifyWrite(address.Value, (ulong)data.Length);
    }

    /// <summary>Copies guest memory into <paramref name="destination"/>.</summary>
    public void Read(GuestPhysicalAddress address, Span<byte> destination) =>
        GetSpan(address, destination.Length).CopyTo(destination);

    public T Read<T>(GuestPhysicalAddress address) where T : unmanaged =>
        MemoryMarshal.Read<T>(GetSpan(address, sizeof(T)));

    public void Write<T>(GuestPhysicalAddress address, T value) where T : unmanaged
    {
        MemoryMarshal.Write(GetSpan(address, sizeof(T)), in value);
        CodePages.NotifyWrite(address.Value, (ulong)sizeof(T));
    }

    public ulong ReadUInt64(GuestPhysicalAddress address) => BinaryPrimitives.ReadUInt64LittleEndian(GetSpan(address, 8));

    public void WriteUInt64(GuestPhysicalAddress address, ulong value) => Write(address, value);

    /// <summary>
    /// A reference to the naturally aligned <typeparamref name="T"/> at <paramref name="address"/>, for host atomic
    /// operations (LOCK-prefixed instructions). Bounds-checked like <see cref="GetSpan"/>; throws when the value is not
    /// aligned to its size, so it never straddles a page or a region.
    /// </summary>
    internal ref T AlignedReference<T>(GuestPhysicalAddress address) where T : unmanaged
    {
        if ((address.Value & (ulong)(sizeof(T) - 1)) != 0)
            throw new ArgumentException($"{address} is not aligned to {sizeof(T)} bytes.", nameof(address));
        return ref MemoryMarshal.GetReference(MemoryMarshal.Cast<byte, T>(GetSpan(address, sizeof(T))));
    }

    /// <summary>
    /// The host address of the page that holds <paramref name="gpa"/>, or null when the page is not RAM. The interpreter's
    /// TLB caches these; a whole page always lies inside one region because regions are page-aligned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte* TryGetPage(ulong gpa)
    {
        var regions = _regions;
        for (int i = 0; i < regions.Length; i++)
        {
            var r = regions[i];
            if (gpa - r.Start < r.Size) return r.Host + ((gpa - r.Start) & ~(ulong)(PageSize - 1));
        }
        return null;
    }

    private GuestMemoryRegion? FindRegion(ulong address, ulong length)
    {
        foreach (var r in _regions)
            if (r.Contains(address, length)) return r;
        return null;
    }

    /// <summary>
    /// Releases the host memory. When a vCPU is still running over it on another thread, the release waits for that run to
    /// return (the machine asks it to stop), so a guest never reaches freed memory; new runs are refused at once.
    /// </summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed) return;
            _disposed = true;
            if (_activeRuns == 0) Release();
        }
    }

    /// <summary>Registers a run that will hold pointers into this memory; false once disposed.</summary>
    internal bool TryEnterRun()
    {
        lock (_lifetime)
        {
            if (_disposed) return false;
            _activeRuns++;
            return true;
        }
    }

    internal void ExitRun()
    {
        lock (_lifetime)
        {
            if (--_activeRuns == 0 && _disposed) Release();
        }
    }

    private void Release()
    {
        var regions = _regions;
        _regions = [];
        foreach (var r in regions) NativeMemory.AlignedFree(r.Host);
    }
}
