using System.Buffers.Binary;
using Dispatch.Execution.Simd;
using Iced.Intel;

namespace Dispatch;

/// <summary>
/// The processor the engine presents through CPUID: it reports exactly the instruction-set extensions the interpreter
/// implements, so software that probes CPUID (C libraries choosing string routines, for instance) only takes code paths
/// the engine can run. CPUID always exits in VMX non-root operation; a CPUID handler returns <see cref="Query"/>'s
/// answer, adjusted as it likes. Bit positions: Intel SDM Vol. 2A, CPUID, Tables 3-8 to 3-20.
/// </summary>
public sealed class CpuidModel
{
    /// <summary>"DispatchCPU!" as the vendor string (an unknown vendor: libraries fall back to generic code).</summary>
    public const string Vendor = "DispatchCPU!";

    public static CpuidModel Default { get; } = new();

    // Leaf 1 EDX: TSC (4), MSR (5), CX8 (8), CMOV (15), PAT (16).
    private const uint Leaf1Edx = (1u << 4) | (1u << 5) | (1u << 8) | (1u << 15) | (1u << 16);
    // Leaf 1 ECX: CX16 (13), MOVBE (22), POPCNT (23), hypervisor present (31).
    private const uint Leaf1Ecx = (1u << 13) | (1u << 22) | (1u << 23) | (1u << 31);
    // Leaf 1 EDX: FPU (0), MMX (23), FXSR (24), SSE (25), SSE2 (26); ECX: SSE3 (0), SSSE3 (9), SSE4.1 (19), SSE4.2 (20).
    // Reported only where the interpreter implements them on this host (they run as host instructions).
    private static readonly uint SimdEdx = Bit(CpuidFeature.FPU, 0) | Bit(CpuidFeature.MMX, 23) | Bit(CpuidFeature.FXSR, 24)
        | Bit(CpuidFeature.SSE, 25) | Bit(CpuidFeature.SSE2, 26);
    private static readonly uint SimdEcx = Bit(CpuidFeature.SSE3, 0) | Bit(CpuidFeature.SSSE3, 9) | Bit(CpuidFeature.SSE4_1, 19)
        | Bit(CpuidFeature.SSE4_2, 20);
    // Leaf 7 EBX: BMI1 (3), BMI2 (8).
    private const uint Leaf7Ebx = (1u << 3) | (1u << 8);
    // 0x80000001 EDX: SYSCALL (11), NX (20), LM (29); ECX: LAHF/SAHF (0), LZCNT (5).
    private const uint Ext1Edx = (1u << 11) | (1u << 20) | (1u << 29);
    private const uint Ext1Ecx = (1u << 0) | (1u << 5);

    public CpuidResult Query(uint leaf, uint subleaf = 0)
    {
        switch (leaf)
        {
            case 0: return new CpuidResult(7, VendorWord(0), VendorWord(2), VendorWord(1));
            case 1: return new CpuidResult(0x0006_0F00, 0, Leaf1Ecx | SimdEcx, Leaf1Edx | SimdEdx);
            case 7 when subleaf == 0: return new CpuidResult(0, Leaf7Ebx, 0, 0);
            case 0x8000_0000: return new CpuidResult(0x8000_0008, 0, 0, 0);
            case 0x8000_0001: return new CpuidResult(0, 0, Ext1Ecx, Ext1Edx);
            case 0x8000_0008: return new CpuidResult(46 | (48 << 8), 0, 0, 0);
            default: return default;
        }
    }

    private static uint Bit(CpuidFeature feature, int bit) => SimdTraits.Implements(feature) ? 1u << bit : 0;

    private static uint VendorWord(int index) =>
        BinaryPrimitives.ReadUInt32LittleEndian(System.Text.Encoding.ASCII.GetBytes(Vendor).AsSpan(index * 4, 4));
}
