using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// A VM exit ended in a VMX abort (Intel SDM Vol. 3C, 28.7): the processor cannot return to the host, so the run ends
/// with <see cref="RunOutcome.VmxAbort"/> carrying this exception, and the vCPU must not be run again until the VMM
/// repairs the VMCS (as hardware needs a reset). The cause is the VMM's VMCS, never the guest.
/// </summary>
public sealed class VmxAbortException : Exception
{
    public VmxAbortException(VmxAbortIndicator indicator, uint entryNumber, uint msr)
        : base($"VMX abort {(uint)indicator} ({indicator}): entry {entryNumber} (MSR 0x{msr:X}) of the area cannot be processed.")
    {
        Indicator = indicator;
        EntryNumber = entryNumber;
        Msr = msr;
    }

    /// <summary>The VMX-abort indicator the processor would write into the VMCS region.</summary>
    public VmxAbortIndicator Indicator { get; }

    /// <summary>The 1-based number of the MSR-area entry that failed.</summary>
    public uint EntryNumber { get; }

    /// <summary>Bits 31:0 of the failing entry.</summary>
    public uint Msr { get; }
}
