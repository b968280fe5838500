namespace Dispatch.Execution.Simd;

/// <summary>
/// The XSAVE area as far as the engine implements it: state components 0 (x87) and 1 (SSE), which live in the legacy
/// region (the FXSAVE image), and the 64-byte XSAVE header after it (Intel SDM Vol. 1, 13.4 and 13.5). Neither component
/// has an extended-region part, so the standard and the compacted formats have the same size and the same offsets.
/// </summary>
internal static class XsaveLayout
{
    /// <summary>XCR0 / XSTATE_BV bit of the x87 state component.</summary>
    public const ulong X87 = 1UL << 0;

    /// <summary>XCR0 / XSTATE_BV bit of the SSE state component (XMM registers and MXCSR).</summary>
    public const ulong Sse = 1UL << 1;

    /// <summary>XCR0 / XSTATE_BV bit of the AVX state component (not implemented; named for XSETBV's rules).</summary>
    public const ulong Avx = 1UL << 2;

    /// <summary>The XCR0 bits the engine supports (CPUID.(EAX=0DH,ECX=0):EDX:EAX).</summary>
    public const ulong SupportedComponents = X87 | Sse;

    /// <summary>The XSAVE area must be 64-byte aligned (#GP otherwise).</summary>
    public const int Alignment = 64;

    public const int LegacyRegionSize = 512, HeaderSize = 64;

    /// <summary>Size of an XSAVE area holding x87 and SSE state: legacy region and header (CPUID.(EAX=0DH):EBX/ECX).</summary>
    public const int AreaSize = LegacyRegionSize + HeaderSize;

    /// <summary>Header fields, as offsets from the start of the XSAVE area (SDM Vol. 1, 13.4.2).</summary>
    public const int XstateBvOffset = LegacyRegionSize, XcompBvOffset = LegacyRegionSize + 8;

    /// <summary>XCOMP_BV bit 63: the area is in the compacted format.</summary>
    public const ulong CompactedFormat = 1UL << 63;

    /// <summary>x87 state in the legacy region: FCW..FDP (bytes 23:0) and ST0-ST7 (bytes 159:32). Table 13-1.</summary>
    public const int X87EnvironmentEnd = 24, X87RegistersStart = 32, X87RegistersEnd = 160;

    /// <summary>MXCSR and MXCSR_MASK (bytes 31:24): saved with the SSE component, not the x87 one.</summary>
    public const int MxcsrOffset = 24, MxcsrEnd = 32;

    /// <summary>XMM0-XMM15 (bytes 415:160).</summary>
    public const int XmmStart = 160, XmmEnd = 416;

    /// <summary>MXCSR's initial value (SDM Vol. 1, 13.6): the SSE component is in its initial configuration with it.</summary>
    public const uint MxcsrInitial = 0x1F80;

    /// <summary>
    /// Whether the engine implements the XSAVE feature set (and reports CPUID.01H:ECX.XSAVE): exactly when it implements
    /// the x87 and SSE state the feature set manages.
    /// </summary>
    public static bool IsImplemented => SimdTraits.Implements(Iced.Intel.CpuidFeature.FXSR);
}
