namespace Dispatch.Vmx;

/// <summary>
/// Why a VM exit ended in a VMX abort instead of returning to the host (Intel SDM Vol. 3C, 28.7 "VMX Aborts"); on
/// hardware the number is written at byte offset 4 of the VMCS region and the processor enters a shutdown-like state.
/// Only the causes the model can produce are named.
/// </summary>
public enum VmxAbortIndicator : uint
{
    /// <summary>An entry of the VM-exit MSR-store area could not be processed (28.4).</summary>
    SavingGuestMsrsFailed = 1,
    /// <summary>An entry of the VM-exit MSR-load area could not be processed (28.6).</summary>
    LoadingHostMsrsFailed = 4,
}
