using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

/// <summary>Guest programs several tests run.</summary>
internal static class GuestPrograms
{
    /// <summary>
    /// <c>cpuid</c> (leaf 0) <paramref name="iterations"/> times in a <c>dec r8d; jnz</c> loop, then HLT unless the caller
    /// goes on with code of its own (<paramref name="halt"/> false).
    /// </summary>
    public static void CpuidLoop(Assembler a, int iterations, bool halt = true)
    {
        var loop = a.CreateLabel();
        a.mov(r8d, iterations);
        a.Label(ref loop);
        a.xor(eax, eax);
        a.cpuid();
        a.dec(r8d);
        a.jnz(loop);
        if (halt) a.hlt();
    }
}
