using System.Runtime.CompilerServices;

namespace Dispatch.Vmx;

/// <summary>Facts about 64-bit linear addresses shared by the VM-entry checks and the engine.</summary>
public static class LinearAddress
{
    /// <summary>Linear-address width with 4-level paging (CPUID.80000008H:EAX[15:8] reports 48 in this model).</summary>
    public const int Width = 48;

    /// <summary>
    /// Whether <paramref name="address"/> is canonical: bits 63 through <see cref="Width"/> - 1 all equal (SDM Vol. 1,
    /// 3.3.7.1). VM entry checks it for bases and RIP (SDM Vol. 3C, 28.2 and 28.3); the processor raises #GP or #SS on
    /// a non-canonical memory reference.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsCanonical(ulong address) => (ulong)((long)(address << (64 - Width)) >> (64 - Width)) == address;
}
