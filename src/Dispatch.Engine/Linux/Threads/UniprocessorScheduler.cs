namespace Dispatch.Linux.Threads;

/// <summary>
/// One processor for all of the process's threads, as Linux runs them on a uniprocessor: a thread runs guest code and its
/// system calls only while it holds the processor, and gives it up when it blocks, yields or its time slice ends. The
/// kernel state, the page tables and the futexes therefore change under one thread at a time, and another thread's stale
/// TLB is flushed before it runs again. Threads get the processor in the order they asked for it.
/// </summary>
internal sealed class UniprocessorScheduler
{
    private readonly object _gate = new(); // a monitor: waiters need Monitor.Wait
    private readonly LinkedList<LinuxThread> _ready = [];
    private LinuxThread? _running;
    private bool _shutDown;

    /// <summary>The thread holding the processor.</summary>
    public LinuxThread? Running
    {
        get { lock (_gate) return _running; }
    }

    /// <summary>Whether another thread waits for the processor (time slices only matter then).</summary>
    public bool OthersReady
    {
        get { lock (_gate) return _ready.Count > 0; }
    }

    /// <summary>How many threads wait for the processor.</summary>
    public int ReadyCount
    {
        get { lock (_gate) return _ready.Count; }
    }

    public bool IsShutDown
    {
        get { lock (_gate) return _shutDown; }
    }

    /// <summary>Waits for the processor. False when the process is ending: the thread must not run again.</summary>
    public bool Acquire(LinuxThread thread)
    {
        lock (_gate)
        {
            var node = _ready.AddLast(thread);
            while (!_shutDown && (_running is not null || _ready.First != node)) Monitor.Wait(_gate);
            _ready.Remove(node);
            if (_shutDown)
            {
                Monitor.PulseAll(_gate);
                return false;
            }
            _running = thread;
            return true;
        }
    }

    public void Release(LinuxThread thread)
    {
        lock (_gate)
        {
            if (_running == thread) _running = null;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The process is ending: no thread gets the processor again.</summary>
    public void ShutDown()
    {
        lock (_gate)
        {
            _shutDown = true;
            Monitor.PulseAll(_gate);
        }
    }
}
