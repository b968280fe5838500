namespace Dispatch;

/// <summary>
/// The guest's extended control register XCR0 (Intel SDM Vol. 1, 13.3). XCR0 is not in the VMCS: it belongs to the
/// processor across VM entries and exits, as the general-purpose registers do, and resets to 1 (x87 only).
/// </summary>
public sealed partial class VCpu
{
    /// <summary>The guest's XCR0: the state components XSAVE and XRSTOR manage (bit 0 x87, bit 1 SSE).</summary>
    public ulong Xcr0 => Processor.Xcr0;

    /// <summary>
    /// Applies an XSETBV on the guest's behalf, as a handler for <see cref="Vmx.ExitReason.Xsetbv"/> (reason 55; XSETBV
    /// always exits in VMX non-root operation) does. Checks what XSETBV checks after its exit (the processor raised #UD
    /// for CR4.OSXSAVE = 0 and #GP(0) for CPL &gt; 0 before exiting): <paramref name="index"/> (ECX) must name XCR0, bit 0
    /// must be 1, only bits CPUID.(EAX=0DH,ECX=0):EDX:EAX reports may be 1, and bit 2 needs bit 1. Returns false, changing
    /// nothing, where XSETBV raises #GP(0): the handler then injects #GP(0) instead of advancing RIP.
    /// </summary>
    public bool TrySetXcr(uint index, ulong value) => Processor.TrySetExtendedControlRegister(index, value);

    /// <summary><see cref="TrySetXcr"/> for XCR0 (ECX = 0).</summary>
    public bool TrySetXcr0(ulong value) => TrySetXcr(0, value);
}
