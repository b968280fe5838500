namespace Dispatch.Vmx;

/// <summary>
/// The checks VMLAUNCH and VMRESUME perform before entering the guest, in the SDM's order: controls (Intel SDM Vol. 3C,
/// 27.2.1), host state (27.2.2-27.2.4), guest state (27.3.1). The first failing check decides the outcome.
/// </summary>
public static class VmEntryChecks
{
    /// <summary>Every check, in the order <see cref="Run"/> applies them.</summary>
    public static IReadOnlyList<VmEntryCheck> All { get; } = [.. ControlFieldChecks.All, .. HostStateChecks.All, .. GuestStateChecks.All];

    private static readonly VmEntryCheck[] s_ordered = [.. All];

    /// <summary>Runs every check against a VMCS. Allocates nothing.</summary>
    public static VmEntryCheckResult Run(Vmcs vmcs, VmxCapabilities capabilities)
    {
        var state = new VmEntryState(vmcs, capabilities);
        foreach (VmEntryCheck check in s_ordered)
            if (!check.Passes(in state)) return VmEntryCheckResult.Failed(check);
        return VmEntryCheckResult.Passed;
    }

    /// <summary>Every check that fails (not only the first), for diagnostics after a failed entry.</summary>
    public static IReadOnlyList<VmEntryCheck> Explain(Vmcs vmcs, VmxCapabilities capabilities)
    {
        var state = new VmEntryState(vmcs, capabilities);
        var failed = new List<VmEntryCheck>();
        foreach (VmEntryCheck check in s_ordered)
            if (!check.Passes(in state)) failed.Add(check);
        return failed;
    }
}
