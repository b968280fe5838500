namespace Dispatch.Linux.Threads;

/// <summary>
/// Futex waiters by user address (the process's threads share one address space, so private and shared futexes are the
/// same thing here). Changed only by the thread holding the processor; a waiter gives the processor up while it sleeps.
/// </summary>
internal sealed class FutexTable
{
    private readonly List<LinuxThread> _waiters = [];

    public void Enqueue(LinuxThread thread, ulong address, uint bitset)
    {
        thread.FutexAddress = address;
        thread.FutexBitset = bitset;
        thread.FutexWoken = false;
        _waiters.Add(thread);
    }

    /// <summary>Removes a waiter that timed out or was interrupted (if nobody woke it meanwhile).</summary>
    public void Remove(LinuxThread thread) => _waiters.Remove(thread);

    /// <summary>Wakes up to <paramref name="count"/> waiters on <paramref name="address"/> whose bitset meets <paramref name="bitset"/>.</summary>
    public int Wake(ulong address, int count, uint bitset)
    {
        int woken = 0;
        for (int i = 0; i < _waiters.Count && woken < count;)
        {
            var t = _waiters[i];
            if (t.FutexAddress == address && (t.FutexBitset & bitset) != 0)
            {
                _waiters.RemoveAt(i);
                t.FutexWoken = true;
                t.WakeSignal.Release();
                woken++;
            }
            else i++;
        }
        return woken;
    }

    /// <summary>FUTEX_REQUEUE: wakes up to <paramref name="wake"/>, then moves up to <paramref name="move"/> waiters to <paramref name="target"/>.</summary>
    public int Requeue(ulong address, int wake, int move, ulong target)
    {
        int woken = Wake(address, wake, uint.MaxValue);
        int moved = 0;
        foreach (var t in _waiters)
        {
            if (moved >= move) break;
            if (t.FutexAddress != address) continue;
            t.FutexAddress = target;
            moved++;
        }
        return woken + moved;
    }

    /// <summary>The process is ending: every waiter returns (and finds it may not run again).</summary>
    public void WakeAll()
    {
        foreach (var t in _waiters)
        {
            t.FutexWoken = true;
            t.WakeSignal.Release();
        }
        _waiters.Clear();
    }
}
