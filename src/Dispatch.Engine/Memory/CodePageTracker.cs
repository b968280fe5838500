namespace Dispatch.Memory;

/// <summary>
/// Remembers which guest-physical pages hold decoded code, so a write to one of them can drop the stale decoded
/// instructions (self-modifying code stays correct). Consulted on slow paths only: the interpreter never installs a fast
/// write mapping for a code page.
/// </summary>
internal sealed class CodePageTracker
{
    private readonly HashSet<ulong> _codePages = [];
    private readonly Lock _gate = new();

    /// <summary>Raised with the page number of a code page that was written.</summary>
    public event Action<ulong>? CodePageWritten;

    /// <summary>Bumped whenever a page becomes a code page, so TLBs know to drop fast write mappings.</summary>
    public int Generation { get; private set; }

    public void MarkCode(ulong pageNumber)
    {
        lock (_gate)
        {
            if (_codePages.Add(pageNumber)) Generation++;
        }
    }

    public bool IsCode(ulong pageNumber)
    {
        lock (_gate) return _codePages.Contains(pageNumber);
    }

    public void NotifyWrite(ulong address, ulong length)
    {
        if (length == 0) return;
        ulong first = address >> 12, last = (address + length - 1) >> 12;
        for (ulong page = first; page <= last; page++)
        {
            bool wasCode;
            lock (_gate) wasCode = _codePages.Remove(page);
            if (wasCode) CodePageWritten?.Invoke(page);
        }
    }
}
