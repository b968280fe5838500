using System.Runtime.CompilerServices;
using Dispatch.Execution.Simd;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>
/// Host stubs are placed while other threads run earlier ones (vCPUs on several threads, or several machines in one
/// process). Placing a stub must never make a page that holds a live stub non-executable, even for an instant: the
/// thread running it would take a host fault.
/// </summary>
public sealed unsafe class ExecutableMemoryTests
{
    // mov eax, imm32; ret
    private static byte[] ReturnConstant(int value) => [0xB8, (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24), 0xC3];

    [Fact]
    public void Stubs_stay_executable_while_new_ones_are_placed()
    {
        if (!ExecutableMemory.IsSupported) return;
        // The runner always calls the newest stub, which shares its page with the next one placed.
        var latest = new StrongBox<(nint Stub, int Value)>((ExecutableMemory.Place(ReturnConstant(-1)), -1));
        bool stop = false;
        long calls = 0, wrong = 0;
        var runner = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                var (stub, value) = Volatile.Read(ref latest).Value;
                if (((delegate* unmanaged<int>)stub)() != value) wrong++;
                calls++;
            }
        });
        runner.Start();

        var placed = new List<(nint Stub, int Value)>();
        for (int i = 0; i < 20_000; i++)
        {
            var stub = (ExecutableMemory.Place(ReturnConstant(i)), i);
            placed.Add(stub);
            Volatile.Write(ref latest, new StrongBox<(nint, int)>(stub));
        }
        Volatile.Write(ref stop, true);
        runner.Join();

        Assert.True(calls > 0);
        Assert.Equal(0, wrong);
        foreach (var (stub, value) in placed) Assert.Equal(value, ((delegate* unmanaged<int>)stub)());
    }

    [Fact]
    public void A_stub_on_its_own_pages_runs()
    {
        if (!ExecutableMemory.IsSupported) return;
        Assert.Equal(1234, ((delegate* unmanaged<int>)ExecutableMemory.PlaceOnOwnPages(ReturnConstant(1234)))());
        Assert.Equal(-7, ((delegate* unmanaged<int>)ExecutableMemory.PlaceOnOwnPages(ReturnConstant(-7)))());
    }
}
