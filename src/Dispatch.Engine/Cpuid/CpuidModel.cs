using System.Buffers.Binary;
using Dispatch.Execution.Simd;
using Iced.Intel;

namespace Dispatch;

/// <summary>
/// The processor the engine presents through CPUID: it reports exactly the instruction-set extensions the interpreter
/// implements, so software that probes CPUID (C libraries choosing string routines, for instance) only takes code paths
/// the engine can run. CPUID always exits in VMX non-root operation; a CPUID handler returns <see cref="Query(VCpu)"/>'s
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
        | Bit(CpuidFeature.SSE4_2, 20) | Bit(CpuidFeature.XSAVE, 26);
    // Leaf 1 ECX.OSXSAVE (27): a copy of the guest's CR4.OSXSAVE, reported only with XSAVE.
    private const int OsxsaveBit = 27;
    // Leaf 0DH sub-leaf 1 EAX: XSAVEOPT (0), XSAVEC and the compacted XRSTOR (1), XGETBV with ECX = 1 (2); not XSAVES (3).
    private static readonly uint XsaveExtensions = Bit(CpuidFeature.XSAVEOPT, 0) | Bit(CpuidFeature.XSAVEC, 1) | Bit(CpuidFeature.XSAVE, 2);
    // Leaf 7 EBX: BMI1 (3), BMI2 (8), FPU CS and DS deprecated (13: stored x87 environments hold zero selectors).
    private const uint Leaf7Ebx = (1u << 3) | (1u << 8) | (1u << 13);
    // 0x80000001 EDX: SYSCALL (11), NX (20), LM (29); ECX: LAHF/SAHF (0), LZCNT (5).
    private const uint Ext1Edx = (1u << 11) | (1u << 20) | (1u << 29);
    private const uint Ext1Ecx = (1u << 0) | (1u << 5);

    /// <summary>The answer for a processor in its reset state (CR4.OSXSAVE = 0).</summary>
    public CpuidResult Query(uint leaf, uint subleaf = 0) => Query(leaf, subleaf, guestCr4: 0);

    /// <summary>
    /// The answer to the CPUID instruction whose exit <paramref name="vcpu"/> is handling: the leaf from EAX, the
    /// sub-leaf from ECX, and the guest's CR4 from the VMCS (CPUID.01H:ECX.OSXSAVE reflects it).
    /// </summary>
    public CpuidResult Query(VCpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        return Query((uint)vcpu.Registers.Rax, (uint)vcpu.Registers.Rcx, vcpu.Vmcs.Read(Vmx.VmcsField.GuestCr4));
    }

    /// <summary>The answer for a guest whose CR4 is <paramref name="guestCr4"/>: OSXSAVE (leaf 1 ECX bit 27) copies CR4.OSXSAVE.</summary>
    public CpuidResult Query(uint leaf, uint subleaf, ulong guestCr4)
    {
        switch (leaf)
        {
            case 0: return new CpuidResult(0xD, VendorWord(0), VendorWord(2), VendorWord(1));
            case 1:
            {
                uint osxsave = (SimdEcx & (1u << 26)) != 0 && (guestCr4 & ControlRegisters.Cr4OSXSAVE) != 0 ? 1u << OsxsaveBit : 0;
                return new CpuidResult(0x0006_0F00, 0, Leaf1Ecx | SimdEcx | osxsave, Leaf1Edx | SimdEdx);
            }
            case 7 when subleaf == 0: return new CpuidResult(0, Leaf7Ebx, 0, 0);
            case 0xD: return ExtendedStateLeaf(subleaf);
            case 0x8000_0000: return new CpuidResult(0x8000_0008, 0, 0, 0);
            case 0x8000_0001: return new CpuidResult(0, 0, Ext1Ecx, Ext1Edx);
            case 0x8000_0008: return new CpuidResult(46 | (48 << 8), 0, 0, 0);
            default: return default;
        }
    }

    /// <summary>
    /// Leaf 0DH (SDM Vol. 2A, Table 3-8): sub-leaf 0 gives the XCR0 bits supported (x87 and SSE) and the XSAVE area
    /// sizes (576 bytes, whatever valid XCR0 is enabled, as neither component has an extended-region part); sub-leaf 1
    /// the instructions beyond XSAVE/XRSTOR and the compacted size; sub-leaves 2 and up describe components the engine
    /// does not support, so they are all zero.
    /// </summary>
    private static CpuidResult ExtendedStateLeaf(uint subleaf)
    {
        if (!XsaveLayout.IsImplemented) return default;
        const ulong supported = XsaveLayout.SupportedComponents;
        return subleaf switch
        {
            0 => new CpuidResult((uint)supported, XsaveLayout.AreaSize, XsaveLayout.AreaSize, (uint)(supported >> 32)),
            1 => new CpuidResult(XsaveExtensions, XsaveLayout.AreaSize, 0, 0),
            _ => default,
        };
    }

    private static uint Bit(CpuidFeature feature, int bit) => SimdTraits.Implements(feature) ? 1u << bit : 0;

    private static uint VendorWord(int index) =>
        BinaryPrimitives.ReadUInt32LittleEndian(System.Text.Encoding.ASCII.GetBytes(Vendor).AsSpan(index * 4, 4));
}
