namespace Dispatch.Vmx;

/// <summary>
/// Checks on the host-state area: Intel SDM Vol. 3C, 27.2.2-27.2.4. A failure is VMfailValid(8). The modelled host
/// always runs in IA-32e mode (the processor executing VMLAUNCH is 64-bit), so the IA-32e branch of each rule applies.
/// </summary>
internal static class HostStateChecks
{
    private const VmEntryCheckKind K = VmEntryCheckKind.HostState;

    public static readonly VmEntryCheck[] All =
    [
        new("HostCr0FixedBits", K, "27.2.2", static (in VmEntryState s) => s.Capabilities.Cr0Permits(s[VmcsField.HostCr0])),
        new("HostCr4FixedBits", K, "27.2.2", static (in VmEntryState s) => s.Capabilities.Cr4Permits(s[VmcsField.HostCr4])),
        new("HostCr3WithinPhysicalAddressWidth", K, "27.2.2", static (in VmEntryState s) => s.IsPhysicalAddress(s[VmcsField.HostCr3])),
        new("HostSysenterAddressesCanonical", K, "27.2.2",
            static (in VmEntryState s) => LinearAddress.IsCanonical(s[VmcsField.HostIa32SysenterEsp]) && LinearAddress.IsCanonical(s[VmcsField.HostIa32SysenterEip])),
        new("HostPatValid", K, "27.2.2",
            static (in VmEntryState s) => (s.ExitControls & VmExitControls.LoadIa32Pat) == 0 || VmEntryState.IsValidPat(s[VmcsField.HostIa32Pat])),
        new("HostEferReservedBitsZero", K, "27.2.2",
            static (in VmEntryState s) => (s.ExitControls & VmExitControls.LoadIa32Efer) == 0 || (s[VmcsField.HostIa32Efer] & ~VmEntryState.EferDefinedBits) == 0),
        new("HostEferLmaLmeMatchAddressSpaceSize", K, "27.2.2",
            static (in VmEntryState s) => (s.ExitControls & VmExitControls.LoadIa32Efer) == 0 || HostEferModeBitsMatch(s)),
        new("HostSelectorsRplAndTiZero", K, "27.2.3", static (in VmEntryState s) => HostSelectorsClean(s)),
        new("HostCsSelectorNonZero", K, "27.2.3", static (in VmEntryState s) => s[VmcsField.HostCsSelector] != 0),
        new("HostTrSelectorNonZero", K, "27.2.3", static (in VmEntryState s) => s[VmcsField.HostTrSelector] != 0),
        new("HostBaseAddressesCanonical", K, "27.2.3",
            static (in VmEntryState s) => LinearAddress.IsCanonical(s[VmcsField.HostFsBase]) && LinearAddress.IsCanonical(s[VmcsField.HostGsBase])
                && LinearAddress.IsCanonical(s[VmcsField.HostGdtrBase]) && LinearAddress.IsCanonical(s[VmcsField.HostIdtrBase])
                && LinearAddress.IsCanonical(s[VmcsField.HostTrBase])),
        new("HostAddressSpaceSizeSet", K, "27.2.4", static (in VmEntryState s) => s.HostAddressSpaceSize),
        new("HostCr4PaeSet", K, "27.2.4", static (in VmEntryState s) => (s[VmcsField.HostCr4] & VmEntryState.Cr4Pae) != 0),
        new("HostRipCanonical", K, "27.2.4", static (in VmEntryState s) => LinearAddress.IsCanonical(s[VmcsField.HostRip])),
    ];

    private static bool HostEferModeBitsMatch(in VmEntryState s)
    {
        ulong efer = s[VmcsField.HostIa32Efer];
        bool lma = (efer & VmEntryState.EferLma) != 0, lme = (efer & VmEntryState.EferLme) != 0;
        return lma == s.HostAddressSpaceSize && lme == s.HostAddressSpaceSize;
    }

    private static bool HostSelectorsClean(in VmEntryState s)
    {
        for (uint encoding = (uint)VmcsField.HostEsSelector; encoding <= (uint)VmcsField.HostTrSelector; encoding += 2)
            if ((s[(VmcsField)encoding] & 7) != 0) return false;
        return true;
    }
}
