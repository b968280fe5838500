using Dispatch.Vmx;

namespace Dispatch.Execution;

/// <summary>
/// The TPR shadow (Intel SDM Vol. 3C, 30.1-30.3): with "use TPR shadow" set and CR8 exiting clear, MOV to and from CR8
/// use VTPR, the 32-bit field at offset 0x80 of the virtual-APIC page, instead of the TPR. After a write, TPR
/// virtualization compares VTPR bits 7:4 with TPR-threshold bits 3:0 and exits with "TPR below threshold" (reason 43),
/// trap-like, when VTPR is lower. Virtual-interrupt delivery and APIC-access virtualization are not modelled.
/// </summary>
internal sealed unsafe partial class Processor
{
    /// <summary>Offset of VTPR in the virtual-APIC page.</summary>
    internal const int VirtualTprOffset = 0x80;

    /// <summary>VTPR as the virtual-APIC page holds it; 0 when the page is outside guest memory.</summary>
    internal uint ReadVirtualTpr()
    {
        byte* page = Memory.TryGetPage(Controls.VirtualApicAddress & ~0xFFFUL);
        return page == null ? 0 : *(uint*)(page + VirtualTprOffset);
    }

    /// <summary>
    /// MOV to CR8 with a TPR shadow: source bits 3:0 go to VTPR bits 7:4; VTPR bits 3:0 and bytes 1-3 are cleared
    /// (30.3). Then TPR virtualization (30.1.2): without virtual-interrupt delivery, a VM exit when VTPR[7:4] is below
    /// TPR threshold[3:0]. The exit is trap-like: the guest RIP saved is the next instruction's and the exit reports no
    /// instruction length. (The block loop counts an exiting instruction as not retired, so this MOV is not counted in
    /// <see cref="InstructionsRetired"/>.)
    /// </summary>
    private ExecutionStatus WriteVirtualTpr(ulong value)
    {
        uint vtpr = (uint)(value & 0xF) << 4;
        byte* page = Memory.TryGetPage(Controls.VirtualApicAddress & ~0xFFFUL);
        if (page != null)
        {
            *(uint*)(page + VirtualTprOffset) = vtpr;
            Memory.CodePages.NotifyWrite((Controls.VirtualApicAddress & ~0xFFFUL) + VirtualTprOffset, 4);
        }
        if (Controls.Has(SecondaryProcessorControls.VirtualInterruptDelivery) || (vtpr >> 4) >= (Controls.TprThreshold & 0xF))
            return ExecutionStatus.FellThrough;
        BeginExit(ExitReason.TprBelowThreshold, 0);
        _exitPending = false;
        // The block loop resumes the guest at the exiting instruction's address: here, the one after the MOV.
        _currentInstructionIp = Rip;
        return ExecutionStatus.Exit;
    }
}
