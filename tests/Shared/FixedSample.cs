using CsCheck;

namespace Dispatch.Testing;

/// <summary>
/// Checks a property over the same generated cases on every run. CsCheck's <c>Sample</c> uses its seed for the first case
/// only and fresh random seeds after it, so a CI run could meet a failure that no other run sees or can replay; here case
/// <c>i</c> always comes from PCG stream <c>stream</c> with seed <c>i</c>. The environment variable
/// <c>DISPATCH_SAMPLE_STREAM</c> picks another stream to explore; a failure names its stream and case.
/// </summary>
internal static class FixedSample
{
    public const string StreamVariable = "DISPATCH_SAMPLE_STREAM";

    /// <summary>The stream to draw from: <paramref name="defaultStream"/> unless the environment names another.</summary>
    public static uint Stream(uint defaultStream) =>
        uint.TryParse(Environment.GetEnvironmentVariable(StreamVariable), out uint s) ? s : defaultStream;

    /// <summary>Case <paramref name="index"/> of <paramref name="stream"/>.</summary>
    public static T Case<T>(Gen<T> gen, uint stream, long index) => gen.Generate(new PCG(stream, (ulong)index), null, out _);

    /// <summary>Runs <paramref name="check"/> on cases 0 to <paramref name="iterations"/> - 1; the first failure is rethrown with its case.</summary>
    public static void Check<T>(Gen<T> gen, Action<T> check, long iterations, uint defaultStream, Func<T, string> describe)
    {
        uint stream = Stream(defaultStream);
        for (long i = 0; i < iterations; i++)
        {
            var value = Case(gen, stream, i);
            try
            {
                check(value);
            }
            catch (Exception e)
            {
                throw new FixedSampleException($"case {i} of stream {stream} ({StreamVariable}={stream} replays it): {describe(value)}\n{e.Message}", e);
            }
        }
    }
}

/// <summary>A property failed on one case; the message says which and how to replay it.</summary>
internal sealed class FixedSampleException(string message, Exception inner) : Exception(message, inner);
