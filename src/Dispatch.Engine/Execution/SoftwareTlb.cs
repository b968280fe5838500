using System.Runtime.CompilerServices;

namespace Dispatch.Execution;

/// <summary>
/// A direct-mapped translation cache from linear page to host page, one table per access kind, as QEMU's softmmu TLB:
/// a hit is one compare. An entry exists only when the access is known to be allowed (permissions, accessed and dirty
/// bits already set, not a code page for writes), so every check the page walk made stays valid until a flush.
/// The tag holds the page address, the user bit (bit 0) and a valid bit (bit 1).
/// </summary>
internal sealed unsafe class SoftwareTlb
{
    public const int Entries = 256;

    private readonly Table[] _tables = [new(), new(), new()];

    public SoftwareTlb()
    {
        Read = _tables[(int)AccessKind.Read];
        Write = _tables[(int)AccessKind.Write];
        Fetch = _tables[(int)AccessKind.Fetch];
    }

    // The per-kind tables as fields: the memory fast path reaches them without an array bounds check.
    public readonly Table Read, Write, Fetch;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Tag(ulong linear, bool user) => (linear & ~0xFFFUL) | (user ? 1UL : 0) | 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Index(ulong linear) => (int)(linear >> 12) & (Entries - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Table For(AccessKind kind) => _tables[(int)kind];

    public void Insert(AccessKind kind, ulong linear, bool user, byte* hostPage, ulong physicalPage)
    {
        var t = _tables[(int)kind];
        int i = Index(linear);
        t.Tags[i] = Tag(linear, user);
        t.Hosts[i] = (nint)hostPage;
        t.PhysicalPages[i] = physicalPage;
    }

    public void FlushAll()
    {
        foreach (var t in _tables) Array.Clear(t.Tags);
    }

    /// <summary>Drops the entries of one linear page (INVLPG).</summary>
    public void FlushPage(ulong linear)
    {
        int i = Index(linear);
        foreach (var t in _tables)
            if ((t.Tags[i] & ~0xFFFUL) == (linear & ~0xFFFUL)) t.Tags[i] = 0;
    }

    /// <summary>Drops write entries that map a guest-physical page (it now holds decoded code).</summary>
    public void FlushWritesTo(ulong physicalPage)
    {
        var t = _tables[(int)AccessKind.Write];
        for (int i = 0; i < Entries; i++)
            if (t.PhysicalPages[i] == physicalPage) t.Tags[i] = 0;
    }

    public sealed class Table
    {
        public readonly ulong[] Tags = new ulong[Entries];
        public readonly nint[] Hosts = new nint[Entries];
        public readonly ulong[] PhysicalPages = new ulong[Entries];
    }
}
