namespace Dispatch.Vmx;

/// <summary>
/// The full 32-bit VM_EXIT_REASON field (encoding 0x4402): the basic reason in bits 15:0 and flag bits above it.
/// Intel SDM Vol. 3C, 28.2.1 "Basic VM-Exit Information", Table 28-? "Format of Exit Reason".
/// </summary>
public readonly record struct ExitReasonField(uint Raw)
{
    public const uint EntryFailureBit = 1u << 31;

    /// <summary>Bits 15:0.</summary>
    public ExitReason Basic => (ExitReason)(Raw & 0xFFFF);

    /// <summary>Bit 25: shadow stack prematurely busy.</summary>
    public bool ShadowStackBusy => (Raw & (1u << 25)) != 0;

    /// <summary>Bit 26: bus lock detected.</summary>
    public bool BusLockDetected => (Raw & (1u << 26)) != 0;

    /// <summary>Bit 27: VM exit from enclave mode.</summary>
    public bool FromEnclaveMode => (Raw & (1u << 27)) != 0;

    /// <summary>Bit 28: pending MTF VM exit (SMM VM exits only).</summary>
    public bool PendingMonitorTrap => (Raw & (1u << 28)) != 0;

    /// <summary>Bit 29: VM exit from VMX root operation (SMM VM exits only).</summary>
    public bool FromVmxRoot => (Raw & (1u << 29)) != 0;

    /// <summary>Bit 31: VM-entry failure.</summary>
    public bool IsEntryFailure => (Raw & EntryFailureBit) != 0;

    public static ExitReasonField From(ExitReason basic, bool entryFailure = false) =>
        new((uint)basic | (entryFailure ? EntryFailureBit : 0));

    public override string ToString() => IsEntryFailure ? $"{Basic} (VM-entry failure)" : Basic.ToString();
}
