using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// State that VM entry loads but VM exit does not save: with "load debug controls" and not "save debug controls", or
/// "load IA32_PAT" without "save IA32_PAT", or "load IA32_EFER" without "save IA32_EFER", every VM entry writes the VMCS
/// field's value back over whatever the guest put there since (Intel SDM Vol. 3C, 27.3.2.1 and 28.3.1). An entry that
/// finds the VMCS unchanged loads nothing, so when the guest changed such a register the exit marks the processor out of
/// sync and the next entry loads the guest state again, as hardware would.
/// </summary>
public sealed partial class VCpu
{
    [Flags]
    private enum RevertingLoads : byte { None = 0, DebugControls = 1, Pat = 2, Efer = 4 }

    private RevertingLoads _revertingLoads;
    private ulong _loadedDr7, _loadedDebugctl, _loadedPat, _loadedEfer;

    /// <summary>Called by the guest-state load: which registers the next entries will load again, and their values.</summary>
    private void RememberRevertingLoads(VmEntryControls entry, VmExitControls exit)
    {
        var p = Processor;
        _revertingLoads = RevertingLoads.None;
        if ((entry & VmEntryControls.LoadDebugControls) != 0 && (exit & VmExitControls.SaveDebugControls) == 0)
            _revertingLoads |= RevertingLoads.DebugControls;
        if ((entry & VmEntryControls.LoadIa32Pat) != 0 && (exit & VmExitControls.SaveIa32Pat) == 0)
            _revertingLoads |= RevertingLoads.Pat;
        if ((entry & VmEntryControls.LoadIa32Efer) != 0 && (exit & VmExitControls.SaveIa32Efer) == 0)
            _revertingLoads |= RevertingLoads.Efer;
        (_loadedDr7, _loadedDebugctl, _loadedPat, _loadedEfer) = (p.Dr[7], p.Debugctl, p.Pat, p.Efer);
    }

    /// <summary>Whether the guest changed a register that the next VM entry loads from the VMCS again.</summary>
    private bool GuestChangedRevertingLoads()
    {
        if (_revertingLoads == RevertingLoads.None) return false;
        var p = Processor;
        return ((_revertingLoads & RevertingLoads.DebugControls) != 0 && (p.Dr[7] != _loadedDr7 || p.Debugctl != _loadedDebugctl))
            || ((_revertingLoads & RevertingLoads.Pat) != 0 && p.Pat != _loadedPat)
            || ((_revertingLoads & RevertingLoads.Efer) != 0 && p.Efer != _loadedEfer);
    }
}
