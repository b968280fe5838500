using Dispatch.Memory;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// The VM-entry check on the TPR shadow that needs guest memory (Intel SDM Vol. 3C, 27.2.1.1): with "use TPR shadow" set
/// and both "virtualize APIC accesses" and "virtual-interrupt delivery" clear, TPR-threshold bits 3:0 must not exceed
/// VTPR bits 7:4 (offset 0x80 of the virtual-APIC page). The VMCS-only checks cannot see the page, so the vCPU applies
/// it, in the control-field checks' place: a failure is VMfailValid(7).
/// </summary>
public sealed partial class VCpu
{
    private static readonly VmEntryCheck s_tprThresholdCheck = new("TprThresholdNotAboveVtpr", VmEntryCheckKind.Control, "27.2.1.1",
        // Decided by the vCPU, which reads VTPR from guest memory; a VMCS alone cannot decide it.
        static (in VmEntryState _) => true);

    private bool TprThresholdAboveVtpr(PrimaryProcessorControls primary, SecondaryProcessorControls secondary, uint threshold, ulong virtualApicAddress)
    {
        if ((primary & PrimaryProcessorControls.ActivateSecondaryControls) == 0) secondary = SecondaryProcessorControls.None;
        if ((secondary & (SecondaryProcessorControls.VirtualizeApicAccesses | SecondaryProcessorControls.VirtualInterruptDelivery)) != 0) return false;
        uint vtpr = 0;
        ulong address = virtualApicAddress + Execution.Processor.VirtualTprOffset;
        if (Machine.Memory.IsBacked(new GuestPhysicalAddress(address), 4)) vtpr = Machine.Memory.Read<uint>(new GuestPhysicalAddress(address));
        return (threshold & 0xF) > ((vtpr >> 4) & 0xF);
    }

    private VmInstructionError FailTprThresholdCheck()
    {
        _stateVersion = -1;
        LastEntryCheck = VmEntryCheckResult.Failed(s_tprThresholdCheck);
        Vmcs.Write(VmcsField.VmInstructionError, (uint)VmInstructionError.EntryInvalidControlFields);
        return VmInstructionError.EntryInvalidControlFields;
    }
}
