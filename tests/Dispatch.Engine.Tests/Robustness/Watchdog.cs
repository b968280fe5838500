namespace Dispatch.Engine.Tests.Robustness;

/// <summary>Runs work on its own thread and fails the test, instead of hanging it, when the work does not return in time.</summary>
internal static class Watchdog
{
    public static async Task<T> Within<T>(TimeSpan limit, Func<T> work, Func<string> describe)
    {
        var task = Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Did not return within {limit.TotalSeconds} s (a hang): {describe()}");
            throw;
        }
    }

    public static Task Within(TimeSpan limit, Action work, Func<string> describe) =>
        Within(limit, () => { work(); return true; }, describe);
}
