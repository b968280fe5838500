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

    /// <summary>
    /// Raised with the page number of a page that just became a code page, so every vCPU's TLB drops its fast write
    /// mapping of it (a later write must take the slow path that invalidates the decoded code).
    /// </summary>
    public event Action<ulong>? CodePageMarked;

    public void MarkCode(ulong pageNumber)
    {
        bool added;
        lock (_gate) added = _codePages.Add(pageNumber);
        if (added) CodePageMarked?.Invoke(pageNumber);
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
