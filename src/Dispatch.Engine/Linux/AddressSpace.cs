using Dispatch.Memory;

namespace Dispatch.Linux;

/// <summary>
/// A process's user address space: guest-physical frames taken from the machine's RAM (which grows in chunks), 4-level page
/// tables of its own (user pages only, with the writable and no-execute bits of each area), and the list of areas. Pages of
/// an area are backed on first touch: the guest's #PF exits land in <see cref="TryHandleFault"/>, and the kernel's own
/// accesses to user memory go through the same walk, so a bad user pointer is an error return, never a host fault.
/// </summary>
public sealed class AddressSpace
{
    public const ulong PageSize = 4096;
    private const ulong Present = 1, Writable = 2, User = 4, NoExecute = 1UL << 63;
    private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;
    private const ulong ChunkSize = 32UL << 20;
    private static readonly byte[] ZeroPage = new byte[PageSize];

    private readonly GuestMemory _memory;
    private readonly ulong _memoryLimit;
    private readonly Stack<ulong> _freeFrames = new();
    private ulong _nextFrame;
    private readonly List<MemoryArea> _areas = [];

    /// <param name="memory">The machine's RAM, which must back [0, <paramref name="firstFrame"/>).</param>
    /// <param name="firstFrame">Frames below this address belong to the VMM (GDT, TSS, unused identity map).</param>
    /// <param name="memoryLimit">Most guest-physical bytes the process may use.</param>
    public AddressSpace(GuestMemory memory, ulong firstFrame, ulong memoryLimit)
    {
        _memory = memory;
        _nextFrame = firstFrame;
        _memoryLimit = memoryLimit;
        Root = AllocateFrame() ?? throw new InvalidOperationException("no memory for the page tables");
    }

    /// <summary>The PML4's guest-physical address: the process's CR3.</summary>
    public ulong Root { get; }

    /// <summary>Set whenever a present mapping changed or went away; the owner flushes the TLB and clears it.</summary>
    public bool TlbFlushNeeded { get; set; }

    public IReadOnlyList<MemoryArea> Areas => _areas;

    /// <summary>Most guest-physical bytes the process may use: its machine's RAM as <c>sysinfo</c> reports it.</summary>
    public ulong MemoryLimit => _memoryLimit;

    /// <summary>Guest-physical bytes in use for pages and tables.</summary>
    public ulong ResidentBytes { get; private set; }

    public static ulong PageDown(ulong a) => a & ~(PageSize - 1);
    public static ulong PageUp(ulong a) => (a + PageSize - 1) & ~(PageSize - 1);

    private ulong? AllocateFrame()
    {
        ulong frame;
        if (_freeFrames.Count > 0) frame = _freeFrames.Pop();
        else
        {
            if (_nextFrame + PageSize > _memory.TotalSize)
            {
                if (_memory.TotalSize + ChunkSize > _memoryLimit) return null;
                _memory.AddRegion(new GuestPhysicalAddress(_memory.TotalSize), ChunkSize);
            }
            frame = _nextFrame;
            _nextFrame += PageSize;
        }
        _memory.Write(new GuestPhysicalAddress(frame), ZeroPage);
        ResidentBytes += PageSize;
        return frame;
    }

    private void FreeFrame(ulong frame)
    {
        _freeFrames.Push(frame);
        ResidentBytes -= PageSize;
    }

    private ulong ReadEntry(ulong address) => _memory.Read<ulong>(new GuestPhysicalAddress(address));

    private void WriteEntry(ulong address, ulong value) => _memory.Write(new GuestPhysicalAddress(address), value);

    /// <summary>The guest-physical address of the page-table entry for <paramref name="va"/>, creating tables when asked.</summary>
    private ulong? LeafEntryAddress(ulong va, bool create)
    {
        ulong table = Root;
        for (int shift = 39; shift > 12; shift -= 9)
        {
            ulong entryAddress = table + (((va >> shift) & 0x1FF) << 3);
            ulong e = ReadEntry(entryAddress);
            if ((e & Present) == 0)
            {
                if (!create) return null;
                ulong? next = AllocateFrame();
                if (next is null) return null;
                e = next.Value | Present | Writable | User;
                WriteEntry(entryAddress, e);
            }
            table = e & AddressMask;
        }
        return table + (((va >> 12) & 0x1FF) << 3);
    }

    private static ulong EntryFlags(Protection p) =>
        Present | User | ((p & Protection.Write) != 0 ? Writable : 0) | ((p & Protection.Execute) != 0 ? 0 : NoExecute);

    /// <summary>The frame mapped at the page of <paramref name="va"/>, or null.</summary>
    public ulong? FrameOf(ulong va)
    {
        ulong? entry = LeafEntryAddress(va, create: false);
        if (entry is null) return null;
        ulong e = ReadEntry(entry.Value);
        return (e & Present) != 0 ? e & AddressMask : null;
    }

    /// <summary>Backs the page at <paramref name="va"/> with a zeroed frame (if it has none) using its area's protection.</summary>
    private ulong? Materialize(ulong va, MemoryArea area)
    {
        ulong page = PageDown(va);
        ulong? entryAddress = LeafEntryAddress(page, create: true);
        if (entryAddress is null) return null;
        ulong e = ReadEntry(entryAddress.Value);
        if ((e & Present) != 0) return e & AddressMask;
        ulong? frame = AllocateFrame();
        if (frame is null) return null;
        WriteEntry(entryAddress.Value, frame.Value | EntryFlags(area.Protection));
        return frame;
    }

    public MemoryArea? FindArea(ulong address)
    {
        foreach (var a in _areas)
            if (a.Contains(address)) return a;
        return null;
    }

    /// <summary>Whether [start, end) overlaps no area.</summary>
    public bool IsFree(ulong start, ulong end)
    {
        if (end <= start || end > UserTop) return false;
        foreach (var a in _areas)
            if (a.Start < end && start < a.End) return false;
        return true;
    }

    /// <summary>The highest user address plus one (the canonical lower half, minus a guard page, as on Linux).</summary>
    public const ulong UserTop = 0x7FFF_FFFF_F000;

    /// <summary>The highest free range of <paramref name="length"/> bytes that ends at or below <paramref name="below"/>.</summary>
    public ulong? FindFree(ulong length, ulong below)
    {
        ulong end = below;
        var sorted = _areas.OrderByDescending(a => a.Start).ToList();
        foreach (var a in sorted)
        {
            if (a.Start >= end) { end = Math.Min(end, a.Start); continue; }
            if (a.End <= end && end - a.End >= length) return end - length;
            end = Math.Min(end, a.Start);
        }
        return end >= length + 0x1_0000 ? end - length : null;
    }

    /// <summary>Adds an area over [start, end), replacing whatever was mapped there.</summary>
    public void Map(ulong start, ulong end, Protection protection, string name)
    {
        Unmap(start, end);
        _areas.Add(new MemoryArea(start, end, protection, name));
        _areas.Sort((x, y) => x.Start.CompareTo(y.Start));
    }

    /// <summary>Removes [start, end) from every area and frees its frames (munmap).</summary>
    public void Unmap(ulong start, ulong end)
    {
        foreach (var a in SplitAt(start, end))
        {
            _areas.Remove(a);
            for (ulong p = a.Start; p < a.End; p += PageSize) UnmapPage(p, free: true);
        }
    }

    private void UnmapPage(ulong page, bool free)
    {
        ulong? entryAddress = LeafEntryAddress(page, create: false);
        if (entryAddress is null) return;
        ulong e = ReadEntry(entryAddress.Value);
        if ((e & Present) == 0) return;
        WriteEntry(entryAddress.Value, 0);
        if (free) FreeFrame(e & AddressMask);
        TlbFlushNeeded = true;
    }

    /// <summary>Changes the protection of [start, end) (mprotect). False when part of the range is not mapped.</summary>
    public bool Protect(ulong start, ulong end, Protection protection)
    {
        for (ulong p = start; p < end; p += PageSize)
            if (FindArea(p) is null) return false;
        foreach (var a in SplitAt(start, end))
        {
            _areas[_areas.IndexOf(a)] = a with { Protection = protection };
            for (ulong p = a.Start; p < a.End; p += PageSize)
            {
                ulong? entryAddress = LeafEntryAddress(p, create: false);
                if (entryAddress is null) continue;
                ulong e = ReadEntry(entryAddress.Value);
                if ((e & Present) == 0) continue;
                WriteEntry(entryAddress.Value, (e & AddressMask) | EntryFlags(protection));
                TlbFlushNeeded = true;
            }
        }
        return true;
    }

    /// <summary>Moves the end of <paramref name="area"/> to <paramref name="newEnd"/> (brk, mremap in place).</summary>
    public void Extend(MemoryArea area, ulong newEnd)
    {
        _areas[_areas.IndexOf(area)] = area with { End = newEnd };
    }

    /// <summary>Moves the pages of [start, start + length) to <paramref name="target"/> without copying (mremap).</summary>
    public void Move(ulong start, ulong length, ulong target, ulong newLength)
    {
        var parts = SplitAt(start, start + length);
        var protection = parts.Count > 0 ? parts[0].Protection : Protection.None;
        string name = parts.Count > 0 ? parts[0].Name : "";
        Map(target, target + newLength, protection, name);
        foreach (var a in parts)
        {
            _areas.Remove(a);
            for (ulong p = a.Start; p < a.End; p += PageSize)
            {
                ulong? frame = FrameOf(p);
                if (frame is null) continue;
                UnmapPage(p, free: false);
                ulong? entryAddress = LeafEntryAddress(target + (p - start), create: true);
                if (entryAddress is null) { FreeFrame(frame.Value); continue; }
                WriteEntry(entryAddress.Value, frame.Value | EntryFlags(a.Protection));
            }
        }
    }

    /// <summary>Splits areas at <paramref name="start"/> and <paramref name="end"/>; returns the areas inside [start, end).</summary>
    private List<MemoryArea> SplitAt(ulong start, ulong end)
    {
        var inside = new List<MemoryArea>();
        for (int i = 0; i < _areas.Count; i++)
        {
            var a = _areas[i];
            if (a.End <= start || a.Start >= end) continue;
            if (a.Start < start)
            {
                _areas[i] = a with { End = start };
                a = a with { Start = start };
                _areas.Insert(++i, a);
            }
            if (a.End > end)
            {
                _areas[i] = a with { End = end };
                _areas.Insert(i + 1, a with { Start = end });
                a = a with { End = end };
            }
            inside.Add(a);
        }
        return inside;
    }

    /// <summary>
    /// A #PF from the guest: backs the page when an area allows the access (demand paging). False for a genuine fault
    /// (no area, a protection violation), which the process gets as SIGSEGV.
    /// </summary>
    public bool TryHandleFault(ulong address, uint errorCode)
    {
        if ((errorCode & 1) != 0) return false; // the page was present: a protection violation
        var area = FindArea(address);
        if (area is null || !Allows(area.Protection, write: (errorCode & 2) != 0, fetch: (errorCode & 16) != 0)) return false;
        return Materialize(address, area) is not null;
    }

    private static bool Allows(Protection p, bool write, bool fetch) =>
        write ? (p & Protection.Write) != 0 : fetch ? (p & Protection.Execute) != 0 : p != Protection.None;

    /// <summary>
    /// The guest-physical address of user address <paramref name="va"/> for a kernel access on the process's behalf, through
    /// its page tables: present, user, and writable for writes; an untouched page of an area that allows the access is
    /// backed first. Null for a bad pointer.
    /// </summary>
    public ulong? Translate(ulong va, bool write)
    {
        if (va >= UserTop) return null;
        ulong? entryAddress = LeafEntryAddress(va, create: false);
        ulong e = entryAddress is null ? 0 : ReadEntry(entryAddress.Value);
        if ((e & Present) == 0)
        {
            var area = FindArea(va);
            if (area is null || !Allows(area.Protection, write, fetch: false)) return null;
            ulong? frame = Materialize(va, area);
            return frame is null ? null : frame.Value | (va & (PageSize - 1));
        }
        if ((e & User) == 0 || (write && (e & Writable) == 0)) return null;
        return (e & AddressMask) | (va & (PageSize - 1));
    }

    /// <summary>Copies user memory into <paramref name="destination"/>. False (EFAULT) if any byte is not readable.</summary>
    public bool TryRead(ulong va, Span<byte> destination)
    {
        while (destination.Length > 0)
        {
            ulong? pa = Translate(va, write: false);
            if (pa is null) return false;
            int n = (int)Math.Min((ulong)destination.Length, PageSize - (va & (PageSize - 1)));
            _memory.Read(new GuestPhysicalAddress(pa.Value), destination[..n]);
            destination = destination[n..];
            va += (ulong)n;
        }
        return true;
    }

    /// <summary>Copies <paramref name="source"/> into user memory. False (EFAULT) if any byte is not writable.</summary>
    public bool TryWrite(ulong va, ReadOnlySpan<byte> source)
    {
        while (source.Length > 0)
        {
            ulong? pa = Translate(va, write: true);
            if (pa is null) return false;
            int n = (int)Math.Min((ulong)source.Length, PageSize - (va & (PageSize - 1)));
            _memory.Write(new GuestPhysicalAddress(pa.Value), source[..n]);
            source = source[n..];
            va += (ulong)n;
        }
        return true;
    }

    /// <summary>Copies into memory the kernel maps itself (loading segments): ignores the area's write protection.</summary>
    public bool Fill(ulong va, ReadOnlySpan<byte> source)
    {
        while (source.Length > 0)
        {
            var area = FindArea(va);
            if (area is null) return false;
            ulong? frame = Materialize(va, area);
            if (frame is null) return false;
            int n = (int)Math.Min((ulong)source.Length, PageSize - (va & (PageSize - 1)));
            _memory.Write(new GuestPhysicalAddress(frame.Value | (va & (PageSize - 1))), source[..n]);
            source = source[n..];
            va += (ulong)n;
        }
        return true;
    }

    /// <summary>A NUL-terminated string at <paramref name="va"/>, at most <paramref name="max"/> bytes; null if unreadable or too long.</summary>
    public byte[]? TryReadCString(ulong va, int max = 4096)
    {
        var bytes = new List<byte>();
        while (bytes.Count < max)
        {
            ulong? pa = Translate(va, write: false);
            if (pa is null) return null;
            int n = (int)(PageSize - (va & (PageSize - 1)));
            var span = _memory.GetSpan(new GuestPhysicalAddress(pa.Value), n);
            int nul = span.IndexOf((byte)0);
            if (nul >= 0)
            {
                bytes.AddRange(span[..nul]);
                return [.. bytes];
            }
            bytes.AddRange(span);
            va += (ulong)n;
        }
        return null;
    }

    public bool TryReadUInt64(ulong va, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = TryRead(va, b);
        value = ok ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    public bool TryWriteUInt64(ulong va, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return TryWrite(va, b);
    }

    /// <summary>Maps one supervisor-only, executable page (the system-call entry stub) at <paramref name="va"/>.</summary>
    public void MapKernelPage(ulong va, ReadOnlySpan<byte> code)
    {
        ulong frame = AllocateFrame() ?? throw new InvalidOperationException("no memory for the system-call stub");
        _memory.Write(new GuestPhysicalAddress(frame), code);
        ulong entryAddress = LeafEntryAddress(va, create: true) ?? throw new InvalidOperationException("no memory for page tables");
        WriteEntry(entryAddress, frame | Present);
    }

    /// <summary>
    /// Maps the VMM's own frame at <paramref name="physical"/> (the GDT and TSS page, the IDT page) supervisor-only at
    /// <paramref name="va"/>, so that the processor finds its descriptor tables through the process's page tables.
    /// </summary>
    public void MapSupervisorFrame(ulong va, ulong physical)
    {
        ulong entryAddress = LeafEntryAddress(va, create: true) ?? throw new InvalidOperationException("no memory for page tables");
        WriteEntry(entryAddress, (physical & AddressMask) | Present | Writable | NoExecute);
    }

    /// <summary>Reads pages already mapped in [va, va + destination.Length) (the loader merging shared pages); others read as zeros.</summary>
    internal void TryReadForLoader(ulong va, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i += (int)PageSize)
        {
            ulong? frame = FrameOf(va + (ulong)i);
            if (frame is null) continue;
            _memory.Read(new GuestPhysicalAddress(frame.Value), destination.Slice(i, (int)Math.Min(PageSize, (ulong)(destination.Length - i))));
        }
    }
}
