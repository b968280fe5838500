using static Dispatch.Vmx.Tests.ValidVmcs;

namespace Dispatch.Vmx.Tests;

/// <summary>
/// Each VM-entry check is violated alone, starting from one valid VMCS, and must fail exactly as SDM 27.1 says:
/// control checks with VMfailValid(7), host-state checks with VMfailValid(8), guest-state checks with an entry-failure
/// exit (reason 33, bit 31) and the SDM 27.8 qualification.
/// </summary>
public class VmEntryCheckTests
{
    private const ulong NonCanonical = 0x0000_8000_0000_0000;

    /// <summary>Capabilities that also allow unrestricted guest, for the rules only reachable with it.</summary>
    private static readonly VmxCapabilities s_unrestricted = VmxCapabilities.Default with
    {
        ProcessorBased2 = new(0, VmxCapabilities.Default.ProcessorBased2.Allowed1 | (uint)SecondaryProcessorControls.UnrestrictedGuest),
    };

    internal static readonly Dictionary<string, (Action<Vmcs> Break, VmxCapabilities? Caps)> s_violations = new()
    {
        ["PinBasedControlsAllowed"] = (v => v.ClearBits(VmcsField.PinBasedVmExecutionControls, 0x2), null),
        ["PrimaryProcessorControlsAllowed"] = (v => v.SetBits(VmcsField.PrimaryProcessorBasedVmExecutionControls, (ulong)PrimaryProcessorControls.ActivateTertiaryControls), null),
        ["SecondaryProcessorControlsAllowed"] = (v => v.SetBits(VmcsField.SecondaryProcessorBasedVmExecutionControls, (ulong)SecondaryProcessorControls.VirtualizeApicAccesses), null),
        ["Cr3TargetCountSupported"] = (v => v.Write(VmcsField.Cr3TargetCount, 5), null),
        ["IoBitmapAAddressValid"] = (v => v.Write(VmcsField.IoBitmapAAddress, 0x10008), null),
        ["IoBitmapBAddressValid"] = (v => v.Write(VmcsField.IoBitmapBAddress, 1UL << 50), null),
        ["MsrBitmapAddressValid"] = (v => v.Write(VmcsField.MsrBitmapsAddress, 0x12001), null),
        ["VirtualApicAddressValid"] = (v => v.Write(VmcsField.VirtualApicAddress, 0x13800), null),
        ["TprThresholdReservedBitsZero"] = (v => v.Write(VmcsField.TprThreshold, 0x10), null),
        ["VirtualNmisRequireNmiExiting"] = (v => v.ClearBits(VmcsField.PinBasedVmExecutionControls, (ulong)PinBasedControls.NmiExiting), null),
        ["NmiWindowExitingRequiresVirtualNmis"] = (v =>
        {
            v.ClearBits(VmcsField.PinBasedVmExecutionControls, (ulong)PinBasedControls.VirtualNmis);
            v.SetBits(VmcsField.PrimaryProcessorBasedVmExecutionControls, (ulong)PrimaryProcessorControls.NmiWindowExiting);
        }, null),
        ["VpidNonZero"] = (v => v.Write(VmcsField.VirtualProcessorIdentifier, 0), null),
        ["EptPointerMemoryTypeSupported"] = (v => v.Write(VmcsField.EptPointer, 0x20000 | (3 << 3) | 1), null),
        ["EptPointerWalkLengthFour"] = (v => v.Write(VmcsField.EptPointer, 0x20000 | (4 << 3) | 6), null),
        ["EptPointerAccessDirtySupported"] = (v => v.SetBits(VmcsField.EptPointer, 1 << 6), null),
        ["EptPointerReservedBitsZero"] = (v => v.SetBits(VmcsField.EptPointer, 1 << 7), null),
        ["UnrestrictedGuestRequiresEpt"] = (v => v.Write(VmcsField.SecondaryProcessorBasedVmExecutionControls,
            (ulong)(SecondaryProcessorControls.EnableVpid | SecondaryProcessorControls.UnrestrictedGuest)), s_unrestricted),
        ["ExitControlsAllowed"] = (v => v.SetBits(VmcsField.PrimaryVmExitControls, (ulong)VmExitControls.ClearIa32Bndcfgs), null),
        ["PreemptionTimerSaveRequiresActivation"] = (v => v.ClearBits(VmcsField.PinBasedVmExecutionControls, (ulong)PinBasedControls.ActivateVmxPreemptionTimer), null),
        ["ExitMsrStoreAreaValid"] = (v => { v.Write(VmcsField.VmExitMsrStoreCount, 1); v.Write(VmcsField.VmExitMsrStoreAddress, 0x30008); }, null),
        ["ExitMsrLoadAreaValid"] = (v => { v.Write(VmcsField.VmExitMsrLoadCount, 1); v.Write(VmcsField.VmExitMsrLoadAddress, 0x30004); }, null),
        ["EntryControlsAllowed"] = (v => v.SetBits(VmcsField.VmEntryControls, (ulong)VmEntryControls.EntryToSmm), null),
        ["EntryMsrLoadAreaValid"] = (v => { v.Write(VmcsField.VmEntryMsrLoadCount, 2); v.Write(VmcsField.VmEntryMsrLoadAddress, (1UL << 46) - 16); }, null),
        ["EventInjectionTypeValid"] = (v => v.Write(VmcsField.VmEntryInterruptionInformation, InterruptionInfo.ValidBit | (1 << 8) | 0x20), null),
        ["EventInjectionNmiVectorIsTwo"] = (v => v.Inject(3, InterruptionType.Nmi), null),
        ["EventInjectionExceptionVectorBelow32"] = (v => v.Inject(32, InterruptionType.HardwareException), null),
        ["EventInjectionOtherEventVectorZero"] = (v => v.Inject(1, InterruptionType.OtherEvent), null),
        ["EventInjectionErrorCodeConsistent"] = (v => v.Inject(ExceptionVector.GeneralProtection, InterruptionType.HardwareException, errorCode: false), null),
        ["EventInjectionReservedBitsZero"] = (v => { v.Inject(0x20, InterruptionType.ExternalInterrupt); v.SetBits(VmcsField.VmEntryInterruptionInformation, 1 << 12); v.SetBits(VmcsField.GuestRflags, 1 << 9); }, null),
        ["EventInjectionErrorCodeUpperBitsZero"] = (v => { v.Inject(ExceptionVector.GeneralProtection, InterruptionType.HardwareException, true); v.Write(VmcsField.VmEntryExceptionErrorCode, 0x10000); }, null),
        ["EventInjectionInstructionLengthValid"] = (v => v.Inject(ExceptionVector.Breakpoint, InterruptionType.SoftwareException), null),

        ["HostCr0FixedBits"] = (v => v.ClearBits(VmcsField.HostCr0, 0x20), null),
        ["HostCr4FixedBits"] = (v => v.ClearBits(VmcsField.HostCr4, 0x2000), null),
        ["HostCr3WithinPhysicalAddressWidth"] = (v => v.SetBits(VmcsField.HostCr3, 1UL << 46), null),
        ["HostSysenterAddressesCanonical"] = (v => v.Write(VmcsField.HostIa32SysenterEsp, NonCanonical), null),
        ["HostPatValid"] = (v => v.Write(VmcsField.HostIa32Pat, 2), null),
        ["HostEferReservedBitsZero"] = (v => v.SetBits(VmcsField.HostIa32Efer, 2), null),
        ["HostEferLmaLmeMatchAddressSpaceSize"] = (v => v.Write(VmcsField.HostIa32Efer, 0x100), null),
        ["HostSelectorsRplAndTiZero"] = (v => v.Write(VmcsField.HostDsSelector, 0x13), null),
        ["HostCsSelectorNonZero"] = (v => v.Write(VmcsField.HostCsSelector, 0), null),
        ["HostTrSelectorNonZero"] = (v => v.Write(VmcsField.HostTrSelector, 0), null),
        ["HostBaseAddressesCanonical"] = (v => v.Write(VmcsField.HostFsBase, NonCanonical), null),
        ["HostAddressSpaceSizeSet"] = (v => { v.ClearBits(VmcsField.PrimaryVmExitControls, (ulong)VmExitControls.HostAddressSpaceSize); v.Write(VmcsField.HostIa32Efer, 0); }, null),
        ["HostCr4PaeSet"] = (v => v.ClearBits(VmcsField.HostCr4, 0x20), null),
        ["HostRipCanonical"] = (v => v.Write(VmcsField.HostRip, NonCanonical), null),

        ["GuestCr0FixedBits"] = (v => v.ClearBits(VmcsField.GuestCr0, 0x20), null),
        ["GuestCr0PagingRequiresProtection"] = (v =>
        {
            v.SetBits(VmcsField.SecondaryProcessorBasedVmExecutionControls, (ulong)SecondaryProcessorControls.UnrestrictedGuest);
            v.ClearBits(VmcsField.GuestCr0, 1);
        }, s_unrestricted),
        ["GuestCr4FixedBits"] = (v => v.SetBits(VmcsField.GuestCr4, 1 << 12), null),
        ["GuestIa32eModeRequiresPaging"] = (v => v.ClearBits(VmcsField.GuestCr4, 0x20), null),
        ["GuestPcideRequiresIa32eMode"] = (v =>
        {
            v.ClearBits(VmcsField.VmEntryControls, (ulong)VmEntryControls.Ia32eModeGuest);
            v.Write(VmcsField.GuestIa32Efer, 0);
            v.Write(VmcsField.GuestCsAccessRights, 0xC09B);
            v.SetBits(VmcsField.GuestCr4, 1 << 17);
        }, null),
        ["GuestCr3WithinPhysicalAddressWidth"] = (v => v.Write(VmcsField.GuestCr3, 1UL << 46), null),
        ["GuestDebugctlReservedBitsZero"] = (v => v.Write(VmcsField.GuestIa32Debugctl, 4), null),
        ["GuestDr7UpperBitsZero"] = (v => v.SetBits(VmcsField.GuestDr7, 1UL << 32), null),
        ["GuestSysenterAddressesCanonical"] = (v => v.Write(VmcsField.GuestIa32SysenterEip, NonCanonical), null),
        ["GuestPatValid"] = (v => v.Write(VmcsField.GuestIa32Pat, 3), null),
        ["GuestEferReservedBitsZero"] = (v => v.SetBits(VmcsField.GuestIa32Efer, 4), null),
        ["GuestEferLmaMatchesIa32eMode"] = (v => v.Write(VmcsField.GuestIa32Efer, 0x100), null),
        ["GuestEferLmeMatchesIa32eModeWhenPaging"] = (v => v.Write(VmcsField.GuestIa32Efer, 0x400), null),
        ["GuestTrSelectorTiZero"] = (v => v.Write(VmcsField.GuestTrSelector, 0x1C), null),
        ["GuestLdtrSelectorTiZero"] = (v => Seg(v, SegmentRegister.Ldtr).Set(0x24, 0, 0xFFFF, 0x82), null),
        ["GuestSsRplEqualsCsRpl"] = (v => v.Write(VmcsField.GuestCsSelector, 0x0B), null),
        ["GuestFsGsTrLdtrBasesCanonical"] = (v => v.Write(VmcsField.GuestFsBase, NonCanonical), null),
        ["GuestCsSsDsEsBasesUpperZero"] = (v => v.Write(VmcsField.GuestDsBase, 1UL << 32), null),
        ["GuestCsType"] = (v => v.Write(VmcsField.GuestCsAccessRights, 0xA098), null),
        ["GuestSsType"] = (v => v.Write(VmcsField.GuestSsAccessRights, 0xC091), null),
        ["GuestDataSegmentTypes"] = (v => v.Write(VmcsField.GuestDsAccessRights, 0xC092), null),
        ["GuestSegmentsAreCodeOrData"] = (v => v.Write(VmcsField.GuestDsAccessRights, 0xC083), null),
        ["GuestCsDpl"] = (v => v.Write(VmcsField.GuestCsAccessRights, 0xA0FB), null),
        ["GuestSsDplEqualsRpl"] = (v => { v.Write(VmcsField.GuestSsSelector, 0x13); v.Write(VmcsField.GuestCsSelector, 0x0B); }, null),
        ["GuestDataSegmentDplNotBelowRpl"] = (v => v.Write(VmcsField.GuestDsSelector, 0x13), null),
        ["GuestSegmentsPresent"] = (v => v.Write(VmcsField.GuestGsAccessRights, 0xC013), null),
        ["GuestSegmentReservedBitsZero"] = (v => v.SetBits(VmcsField.GuestEsAccessRights, 0x100), null),
        ["GuestSegmentLimitMatchesGranularity"] = (v => v.Write(VmcsField.GuestFsLimit, 0xFFFF_F000), null),
        ["GuestCsLongModeClearsDefaultSize"] = (v => v.Write(VmcsField.GuestCsAccessRights, 0xE09B), null),
        ["GuestTrType"] = (v => v.Write(VmcsField.GuestTrAccessRights, 0x83), null),
        ["GuestTrSystemPresentUsable"] = (v => v.Write(VmcsField.GuestTrAccessRights, 0x0B), null),
        ["GuestTrReservedBitsAndLimit"] = (v => v.Write(VmcsField.GuestTrLimit, 0x10_0000), null),
        ["GuestLdtrAccessRights"] = (v => Seg(v, SegmentRegister.Ldtr).Set(0x20, 0, 0xFFFF, 0x83), null),
        ["GuestGdtrIdtrBasesCanonical"] = (v => v.Write(VmcsField.GuestIdtrBase, NonCanonical), null),
        ["GuestGdtrIdtrLimitsWithin16Bits"] = (v => v.Write(VmcsField.GuestGdtrLimit, 0x1_0000), null),
        ["GuestRipUpperBitsZero"] = (v => { v.Write(VmcsField.GuestCsAccessRights, 0xC09B); v.Write(VmcsField.GuestRip, 1UL << 32); }, null),
        ["GuestRipCanonical"] = (v => v.Write(VmcsField.GuestRip, NonCanonical), null),
        ["GuestRflagsReservedBitsZero"] = (v => v.SetBits(VmcsField.GuestRflags, 1 << 3), null),
        ["GuestRflagsBit1Set"] = (v => v.Write(VmcsField.GuestRflags, 0), null),
        ["GuestRflagsVmClearInIa32eMode"] = (v => v.SetBits(VmcsField.GuestRflags, 1 << 17), null),
        ["GuestRflagsIfSetForExternalInterruptInjection"] = (v => v.Inject(0x20, InterruptionType.ExternalInterrupt), null),
        ["GuestActivityStateSupported"] = (v => v.Write(VmcsField.GuestActivityState, 3), null),
        ["GuestActivityHltRequiresSsDplZero"] = (v =>
        {
            Seg(v, SegmentRegister.Cs).Set(0x0B, 0, 0xFFFF_FFFF, 0xA0FB);
            Seg(v, SegmentRegister.Ss).Set(0x13, 0, 0xFFFF_FFFF, 0xC0F3);
            v.Write(VmcsField.GuestActivityState, 1);
        }, null),
        ["GuestActivityActiveWhenStiOrMovSsBlocking"] = (v => { v.Write(VmcsField.GuestRflags, 0x202); v.Write(VmcsField.GuestInterruptibilityState, 1); v.Write(VmcsField.GuestActivityState, 1); }, null),
        ["GuestActivityStateAllowsInjectedEvent"] = (v => { v.Write(VmcsField.GuestActivityState, 2); v.Inject(ExceptionVector.PageFault, InterruptionType.HardwareException, true); }, null),
        ["GuestInterruptibilityReservedBitsZero"] = (v => v.Write(VmcsField.GuestInterruptibilityState, 0x20), null),
        ["GuestInterruptibilityStiAndMovSsExclusive"] = (v => { v.Write(VmcsField.GuestRflags, 0x202); v.Write(VmcsField.GuestInterruptibilityState, 3); }, null),
        ["GuestInterruptibilityStiRequiresIf"] = (v => v.Write(VmcsField.GuestInterruptibilityState, 1), null),
        ["GuestInterruptibilityNoStiOrMovSsForExternalInterruptInjection"] = (v =>
        {
            v.Write(VmcsField.GuestRflags, 0x202);
            v.Write(VmcsField.GuestInterruptibilityState, 2);
            v.Inject(0x20, InterruptionType.ExternalInterrupt);
        }, null),
        ["GuestInterruptibilityNoMovSsForNmiInjection"] = (v => { v.Write(VmcsField.GuestInterruptibilityState, 2); v.Inject(2, InterruptionType.Nmi); }, null),
        ["GuestInterruptibilitySmiBlockingOutsideSmm"] = (v => v.Write(VmcsField.GuestInterruptibilityState, 4), null),
        ["GuestInterruptibilityNoNmiBlockingForVirtualNmiInjection"] = (v => { v.Write(VmcsField.GuestInterruptibilityState, 8); v.Inject(2, InterruptionType.Nmi); }, null),
        ["GuestPendingDebugExceptionsReservedBitsZero"] = (v => v.Write(VmcsField.GuestPendingDebugExceptions, 0x10), null),
        ["GuestPendingDebugSingleStepConsistent"] = (v => { v.Write(VmcsField.GuestInterruptibilityState, 2); v.Write(VmcsField.GuestPendingDebugExceptions, 1 << 14); }, null),
        ["GuestVmcsLinkPointerAllOnes"] = (v => v.Write(VmcsField.VmcsLinkPointer, 0), null),
        ["GuestNmiInjectionWithStiBlocking"] = (v => { v.Write(VmcsField.GuestRflags, 0x202); v.Write(VmcsField.GuestInterruptibilityState, 1); v.Inject(2, InterruptionType.Nmi); }, null),
    };

    public static TheoryData<string> CheckNames() => new(VmEntryChecks.All.Select(c => c.Name));

    [Fact]
    public void ValidVmcsPassesEveryCheck()
    {
        Assert.Empty(VmEntryChecks.Explain(Create(), VmxCapabilities.Default).Select(c => c.Name));
        Assert.True(VmEntryChecks.Run(Create(), VmxCapabilities.Default).IsPassed);
        Assert.Empty(VmEntryChecks.Explain(Create(s_unrestricted), s_unrestricted).Select(c => c.Name));
    }

    [Fact]
    public void EveryCheckHasAViolationAndNamesAreUnique()
    {
        var names = VmEntryChecks.All.Select(c => c.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(names.Order(), s_violations.Keys.Order());
    }

    [Theory]
    [MemberData(nameof(CheckNames))]
    public void ViolatingOneCheckFailsExactlyThatCheckAsTheSdmSays(string name)
    {
        var (breakIt, caps) = s_violations[name];
        caps ??= VmxCapabilities.Default;
        Vmcs vmcs = Create(caps);
        breakIt(vmcs);

        Assert.Equal([name], VmEntryChecks.Explain(vmcs, caps).Select(c => c.Name));
        VmEntryCheckResult result = VmEntryChecks.Run(vmcs, caps);
        Assert.Equal(name, result.FailedCheckName);
        VmEntryCheck check = VmEntryChecks.All.Single(c => c.Name == name);
        switch (check.Kind)
        {
            case VmEntryCheckKind.Control:
                Assert.Equal(VmEntryCheckOutcome.FailValid, result.Outcome);
                Assert.Equal(VmInstructionError.EntryInvalidControlFields, result.Error);
                break;
            case VmEntryCheckKind.HostState:
                Assert.Equal(VmEntryCheckOutcome.FailValid, result.Outcome);
                Assert.Equal(VmInstructionError.EntryInvalidHostStateFields, result.Error);
                break;
            default:
                Assert.Equal(VmEntryCheckOutcome.EntryFailure, result.Outcome);
                Assert.Equal(0x8000_0021u, result.ExitReason.Raw);
                var expected = name switch
                {
                    "GuestVmcsLinkPointerAllOnes" => VmEntryFailureQualification.InvalidVmcsLinkPointer,
                    "GuestNmiInjectionWithStiBlocking" => VmEntryFailureQualification.NmiInjectionWithStiBlocking,
                    _ => VmEntryFailureQualification.Default,
                };
                Assert.Equal(expected, result.Qualification);
                break;
        }
    }
}
