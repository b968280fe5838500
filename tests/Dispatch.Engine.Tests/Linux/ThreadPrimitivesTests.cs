using Dispatch.Linux.Threads;

namespace Dispatch.Engine.Tests.Linux;

/// <summary>The one processor Linux guest threads share, and the futex wait queues, without a guest.</summary>
public sealed class ThreadPrimitivesTests : IDisposable
{
    private readonly VirtualMachine _machine = new(1 << 20);
    private int _nextTid = 100;

    private LinuxThread NewThread() => new(_nextTid++, _machine.CreateVCpu(), isMain: false);

    public void Dispose() => _machine.Dispose();

    private static void WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the condition never held");
            Thread.Sleep(1);
        }
    }

    [Fact]
    public void Processor_goes_to_waiting_threads_in_the_order_they_asked()
    {
        var scheduler = new UniprocessorScheduler();
        var first = NewThread();
        Assert.True(scheduler.Acquire(first));
        var order = new List<int>();
        var waiters = new List<Thread>();
        for (int i = 0; i < 3; i++)
        {
            var t = NewThread();
            // No assertion on these threads: an exception there would take the test host down; the order says it all.
            var host = new Thread(() =>
            {
                bool got = scheduler.Acquire(t);
                lock (order) order.Add(got ? t.Tid : -t.Tid);
                scheduler.Release(t);
            }) { IsBackground = true };
            host.Start();
            waiters.Add(host);
            int expected = i + 1;
            WaitUntil(() => scheduler.ReadyCount == expected); // queued before the next one asks
        }
        Assert.Empty(order); // nobody runs while the first thread holds the processor
        scheduler.Release(first);
        foreach (var w in waiters) Assert.True(w.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal([101, 102, 103], order);
    }

    [Fact]
    public void Shut_down_scheduler_refuses_every_waiter_and_later_asker()
    {
        var scheduler = new UniprocessorScheduler();
        var holder = NewThread();
        Assert.True(scheduler.Acquire(holder));
        bool? waiterGot = null;
        var waiter = NewThread();
        var host = new Thread(() => waiterGot = scheduler.Acquire(waiter)) { IsBackground = true };
        host.Start();
        WaitUntil(() => scheduler.ReadyCount == 1);
        scheduler.ShutDown();
        Assert.True(host.Join(TimeSpan.FromSeconds(30)));
        Assert.False(waiterGot);
        scheduler.Release(holder);
        Assert.False(scheduler.Acquire(NewThread()));
        Assert.Equal(0, scheduler.ReadyCount);
    }

    [Fact]
    public void Release_by_a_thread_that_does_not_hold_the_processor_changes_nothing()
    {
        var scheduler = new UniprocessorScheduler();
        var holder = NewThread();
        Assert.True(scheduler.Acquire(holder));
        scheduler.Release(NewThread());
        Assert.Same(holder, scheduler.Running);
    }

    [Fact]
    public void Futex_wake_takes_waiters_in_order_up_to_the_count_and_by_bitset()
    {
        var futexes = new FutexTable();
        var a = NewThread();
        var b = NewThread();
        var c = NewThread();
        var other = NewThread();
        futexes.Enqueue(a, 0x1000, 0b01);
        futexes.Enqueue(b, 0x1000, 0b10);
        futexes.Enqueue(c, 0x1000, 0b11);
        futexes.Enqueue(other, 0x2000, uint.MaxValue);

        Assert.Equal(1, futexes.Wake(0x1000, 1, uint.MaxValue));
        Assert.True(a.FutexWoken);
        Assert.True(a.WakeSignal.Wait(0));
        Assert.False(b.FutexWoken);

        // FUTEX_WAKE_BITSET with bit 1: b and c match, the waiter on another word does not.
        Assert.Equal(2, futexes.Wake(0x1000, int.MaxValue, 0b10));
        Assert.True(b.FutexWoken && c.FutexWoken);
        Assert.False(other.FutexWoken);
        Assert.Equal(0, futexes.Wake(0x1000, int.MaxValue, uint.MaxValue));
    }

    [Fact]
    public void Futex_requeue_wakes_some_and_moves_others_to_the_target_word()
    {
        var futexes = new FutexTable();
        var waiters = new[] { NewThread(), NewThread(), NewThread() };
        foreach (var w in waiters) futexes.Enqueue(w, 0x1000, uint.MaxValue);

        Assert.Equal(2, futexes.Requeue(0x1000, wake: 1, move: 1, target: 0x3000));
        Assert.True(waiters[0].FutexWoken);
        Assert.Equal(0x3000UL, waiters[1].FutexAddress);
        Assert.Equal(0x1000UL, waiters[2].FutexAddress);
        Assert.Equal(1, futexes.Wake(0x3000, int.MaxValue, uint.MaxValue));
        Assert.True(waiters[1].FutexWoken);
        Assert.Equal(1, futexes.Wake(0x1000, int.MaxValue, uint.MaxValue));
        Assert.True(waiters[2].FutexWoken);
    }

    [Fact]
    public void Removed_waiter_is_not_woken()
    {
        var futexes = new FutexTable();
        var waiter = NewThread();
        futexes.Enqueue(waiter, 0x1000, uint.MaxValue);
        futexes.Remove(waiter);
        Assert.Equal(0, futexes.Wake(0x1000, int.MaxValue, uint.MaxValue));
        Assert.False(waiter.FutexWoken);
        Assert.False(waiter.WakeSignal.Wait(0));
    }
}
