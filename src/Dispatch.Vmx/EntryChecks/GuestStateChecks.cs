namespace Dispatch.Vmx;

/// <summary>
/// Checks on the guest-state area: Intel SDM Vol. 3C, 27.3.1. A failure is a VM exit with basic reason 33, bit 31 set
/// and the qualification of 27.8. Virtual-8086 guests are not modelled: RFLAGS.VM must be 0 (checked), so the segment
/// rules below are the protected-mode and IA-32e ones.
/// </summary>
internal static class GuestStateChecks
{
    private const VmEntryCheckKind K = VmEntryCheckKind.GuestState;

    private static readonly SegmentRegister[] s_dataSegments = [SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs];
    private static readonly SegmentRegister[] s_codeAndDataSegments =
        [SegmentRegister.Cs, SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs];

    public static readonly VmEntryCheck[] All =
    [
        // 27.3.1.1 Control registers, debug registers and MSRs.
        new("GuestCr0FixedBits", K, "27.3.1.1", static (in VmEntryState s) => Cr0FixedBitsMet(s)),
        new("GuestCr0PagingRequiresProtection", K, "27.3.1.1",
            static (in VmEntryState s) => (s[VmcsField.GuestCr0] & VmEntryState.Cr0Pg) == 0 || (s[VmcsField.GuestCr0] & VmEntryState.Cr0Pe) != 0),
        new("GuestCr4FixedBits", K, "27.3.1.1", static (in VmEntryState s) => s.Capabilities.Cr4Permits(s[VmcsField.GuestCr4])),
        new("GuestIa32eModeRequiresPaging", K, "27.3.1.1",
            static (in VmEntryState s) => !s.Ia32eModeGuest || ((s[VmcsField.GuestCr0] & VmEntryState.Cr0Pg) != 0 && (s[VmcsField.GuestCr4] & VmEntryState.Cr4Pae) != 0)),
        new("GuestPcideRequiresIa32eMode", K, "27.3.1.1", static (in VmEntryState s) => s.Ia32eModeGuest || (s[VmcsField.GuestCr4] & VmEntryState.Cr4Pcide) == 0),
        new("GuestCr3WithinPhysicalAddressWidth", K, "27.3.1.1", static (in VmEntryState s) => s.IsPhysicalAddress(s[VmcsField.GuestCr3])),
        // IA32_DEBUGCTL bits defined: LBR, BTF, TR, BTS, BTINT, BTS_OFF_OS/USR, FREEZE_LBRS_ON_PMI, FREEZE_PERFMON_ON_PMI,
        // FREEZE_WHILE_SMM, RTM_DEBUG (SDM Vol. 4, Table 2-2).
        new("GuestDebugctlReservedBitsZero", K, "27.3.1.1",
            static (in VmEntryState s) => !LoadsDebugControls(s) || (s[VmcsField.GuestIa32Debugctl] & ~0xDFC3UL) == 0),
        new("GuestDr7UpperBitsZero", K, "27.3.1.1", static (in VmEntryState s) => !LoadsDebugControls(s) || s[VmcsField.GuestDr7] >> 32 == 0),
        new("GuestSysenterAddressesCanonical", K, "27.3.1.1",
            static (in VmEntryState s) => LinearAddress.IsCanonical(s[VmcsField.GuestIa32SysenterEsp]) && LinearAddress.IsCanonical(s[VmcsField.GuestIa32SysenterEip])),
        new("GuestPatValid", K, "27.3.1.1",
            static (in VmEntryState s) => (s.EntryControls & VmEntryControls.LoadIa32Pat) == 0 || VmEntryState.IsValidPat(s[VmcsField.GuestIa32Pat])),
        new("GuestEferReservedBitsZero", K, "27.3.1.1",
            static (in VmEntryState s) => !LoadsEfer(s) || (s[VmcsField.GuestIa32Efer] & ~VmEntryState.EferDefinedBits) == 0),
        new("GuestEferLmaMatchesIa32eMode", K, "27.3.1.1",
            static (in VmEntryState s) => !LoadsEfer(s) || ((s[VmcsField.GuestIa32Efer] & VmEntryState.EferLma) != 0) == s.Ia32eModeGuest),
        new("GuestEferLmeMatchesIa32eModeWhenPaging", K, "27.3.1.1",
            static (in VmEntryState s) => !LoadsEfer(s) || (s[VmcsField.GuestCr0] & VmEntryState.Cr0Pg) == 0
                || ((s[VmcsField.GuestIa32Efer] & VmEntryState.EferLme) != 0) == s.Ia32eModeGuest),

        // 27.3.1.2 Segment registers (not virtual-8086).
        new("GuestTrSelectorTiZero", K, "27.3.1.2", static (in VmEntryState s) => (s.Segment(SegmentRegister.Tr).Selector & 4) == 0),
        new("GuestLdtrSelectorTiZero", K, "27.3.1.2",
            static (in VmEntryState s) => !s.Segment(SegmentRegister.Ldtr).Usable || (s.Segment(SegmentRegister.Ldtr).Selector & 4) == 0),
        new("GuestSsRplEqualsCsRpl", K, "27.3.1.2",
            static (in VmEntryState s) => s.UnrestrictedGuest || s.Segment(SegmentRegister.Ss).Rpl == s.Segment(SegmentRegister.Cs).Rpl),
        new("GuestFsGsTrLdtrBasesCanonical", K, "27.3.1.2",
            static (in VmEntryState s) => LinearAddress.IsCanonical(s.Segment(SegmentRegister.Fs).Base) && LinearAddress.IsCanonical(s.Segment(SegmentRegister.Gs).Base)
                && LinearAddress.IsCanonical(s.Segment(SegmentRegister.Tr).Base)
                && (!s.Segment(SegmentRegister.Ldtr).Usable || LinearAddress.IsCanonical(s.Segment(SegmentRegister.Ldtr).Base))),
        new("GuestCsSsDsEsBasesUpperZero", K, "27.3.1.2", static (in VmEntryState s) => LegacyBasesFit(s)),
        new("GuestCsType", K, "27.3.1.2",
            static (in VmEntryState s) => s.Segment(SegmentRegister.Cs).AccessRights.Type is 9 or 11 or 13 or 15
                || (s.UnrestrictedGuest && s.Segment(SegmentRegister.Cs).AccessRights.Type == 3)),
        new("GuestSsType", K, "27.3.1.2",
            static (in VmEntryState s) => !s.Segment(SegmentRegister.Ss).Usable || s.Segment(SegmentRegister.Ss).AccessRights.Type is 3 or 7),
        new("GuestDataSegmentTypes", K, "27.3.1.2", static (in VmEntryState s) => DataSegmentTypesValid(s)),
        new("GuestSegmentsAreCodeOrData", K, "27.3.1.2", static (in VmEntryState s) => AllUsable(s, static g => g.AccessRights.IsCodeOrData)),
        new("GuestCsDpl", K, "27.3.1.2", static (in VmEntryState s) => CsDplValid(s)),
        new("GuestSsDplEqualsRpl", K, "27.3.1.2",
            static (in VmEntryState s) => s.UnrestrictedGuest || s.Segment(SegmentRegister.Ss).AccessRights.Dpl == s.Segment(SegmentRegister.Ss).Rpl),
        new("GuestDataSegmentDplNotBelowRpl", K, "27.3.1.2", static (in VmEntryState s) => DataSegmentDplValid(s)),
        new("GuestSegmentsPresent", K, "27.3.1.2", static (in VmEntryState s) => AllUsable(s, static g => g.AccessRights.Present)),
        new("GuestSegmentReservedBitsZero", K, "27.3.1.2", static (in VmEntryState s) => AllUsable(s, static g => !g.AccessRights.HasReservedBits)),
        new("GuestSegmentLimitMatchesGranularity", K, "27.3.1.2", static (in VmEntryState s) => AllUsable(s, static g => g.LimitMatchesGranularity)),
        new("GuestCsLongModeClearsDefaultSize", K, "27.3.1.2",
            static (in VmEntryState s) => !s.Ia32eModeGuest || !s.Segment(SegmentRegister.Cs).AccessRights.LongMode || !s.Segment(SegmentRegister.Cs).AccessRights.DefaultBig),
        new("GuestTrType", K, "27.3.1.2",
            static (in VmEntryState s) => s.Segment(SegmentRegister.Tr).AccessRights.Type == 11 || (!s.Ia32eModeGuest && s.Segment(SegmentRegister.Tr).AccessRights.Type == 3)),
        new("GuestTrSystemPresentUsable", K, "27.3.1.2",
            static (in VmEntryState s) => s.Segment(SegmentRegister.Tr).AccessRights is { IsCodeOrData: false, Present: true, Unusable: false }),
        new("GuestTrReservedBitsAndLimit", K, "27.3.1.2",
            static (in VmEntryState s) => !s.Segment(SegmentRegister.Tr).AccessRights.HasReservedBits && s.Segment(SegmentRegister.Tr).LimitMatchesGranularity),
        new("GuestLdtrAccessRights", K, "27.3.1.2", static (in VmEntryState s) => LdtrValid(s.Segment(SegmentRegister.Ldtr))),

        // 27.3.1.3 Descriptor-table registers.
        new("GuestGdtrIdtrBasesCanonical", K, "27.3.1.3",
            static (in VmEntryState s) => LinearAddress.IsCanonical(s[VmcsField.GuestGdtrBase]) && LinearAddress.IsCanonical(s[VmcsField.GuestIdtrBase])),
        new("GuestGdtrIdtrLimitsWithin16Bits", K, "27.3.1.3",
            static (in VmEntryState s) => s[VmcsField.GuestGdtrLimit] <= 0xFFFF && s[VmcsField.GuestIdtrLimit] <= 0xFFFF),

        // 27.3.1.4 RIP and RFLAGS.
        new("GuestRipUpperBitsZero", K, "27.3.1.4", static (in VmEntryState s) => In64BitMode(s) || s[VmcsField.GuestRip] >> 32 == 0),
        new("GuestRipCanonical", K, "27.3.1.4", static (in VmEntryState s) => !In64BitMode(s) || LinearAddress.IsCanonical(s[VmcsField.GuestRip])),
        new("GuestRflagsReservedBitsZero", K, "27.3.1.4", static (in VmEntryState s) => (s.GuestRflags & 0xFFFF_FFFF_FFC0_8028UL) == 0),
        new("GuestRflagsBit1Set", K, "27.3.1.4", static (in VmEntryState s) => (s.GuestRflags & 2) != 0),
        new("GuestRflagsVmClearInIa32eMode", K, "27.3.1.4",
            static (in VmEntryState s) => (!s.Ia32eModeGuest && (s[VmcsField.GuestCr0] & VmEntryState.Cr0Pe) != 0) || (s.GuestRflags & VmEntryState.RflagsVm) == 0),
        new("GuestRflagsIfSetForExternalInterruptInjection", K, "27.3.1.4",
            static (in VmEntryState s) => !InjectsExternalInterrupt(s) || (s.GuestRflags & VmEntryState.RflagsIf) != 0),

        // 27.3.1.5 Non-register state.
        new("GuestActivityStateSupported", K, "27.3.1.5", static (in VmEntryState s) => s.Capabilities.SupportsActivityState((uint)s[VmcsField.GuestActivityState])),
        new("GuestActivityHltRequiresSsDplZero", K, "27.3.1.5",
            static (in VmEntryState s) => s[VmcsField.GuestActivityState] != 1 || s.Segment(SegmentRegister.Ss).AccessRights.Dpl == 0),
        new("GuestActivityActiveWhenStiOrMovSsBlocking", K, "27.3.1.5",
            static (in VmEntryState s) => (s.Interruptibility & 3) == 0 || s[VmcsField.GuestActivityState] == 0),
        new("GuestActivityStateAllowsInjectedEvent", K, "27.3.1.5", static (in VmEntryState s) => ActivityAllowsInjection(s)),
        new("GuestInterruptibilityReservedBitsZero", K, "27.3.1.5", static (in VmEntryState s) => (s.Interruptibility & 0xFFFF_FFF0) == 0),
        new("GuestInterruptibilityStiAndMovSsExclusive", K, "27.3.1.5", static (in VmEntryState s) => (s.Interruptibility & 3) != 3),
        new("GuestInterruptibilityStiRequiresIf", K, "27.3.1.5",
            static (in VmEntryState s) => (s.Interruptibility & 1) == 0 || (s.GuestRflags & VmEntryState.RflagsIf) != 0),
        new("GuestInterruptibilityNoStiOrMovSsForExternalInterruptInjection", K, "27.3.1.5",
            static (in VmEntryState s) => !InjectsExternalInterrupt(s) || (s.Interruptibility & 3) == 0),
        new("GuestInterruptibilityNoMovSsForNmiInjection", K, "27.3.1.5", static (in VmEntryState s) => !InjectsNmi(s) || (s.Interruptibility & 2) == 0),
        new("GuestInterruptibilitySmiBlockingOutsideSmm", K, "27.3.1.5", static (in VmEntryState s) => (s.Interruptibility & 4) == 0),
        new("GuestInterruptibilityNoNmiBlockingForVirtualNmiInjection", K, "27.3.1.5",
            static (in VmEntryState s) => !InjectsNmi(s) || (s.Pin & PinBasedControls.VirtualNmis) == 0 || (s.Interruptibility & 8) == 0),
        // Pending debug exceptions: bits 3:0 B3-B0, 12 enabled breakpoint, 14 BS, 16 RTM are defined (SDM 25.4.2, Table 25-4).
        new("GuestPendingDebugExceptionsReservedBitsZero", K, "27.3.1.5",
            static (in VmEntryState s) => (s[VmcsField.GuestPendingDebugExceptions] & ~0x1_500FUL) == 0),
        new("GuestPendingDebugSingleStepConsistent", K, "27.3.1.5", static (in VmEntryState s) => PendingSingleStepConsistent(s)),
        // 27.3.1.5: without VMCS shadowing the link pointer must be all ones, else the failure has qualification 4.
        new("GuestVmcsLinkPointerAllOnes", K, "27.3.1.5",
            static (in VmEntryState s) => (s.Secondary & SecondaryProcessorControls.VmcsShadowing) != 0 || s[VmcsField.VmcsLinkPointer] == ulong.MaxValue,
            VmEntryFailureQualification.InvalidVmcsLinkPointer),
        // 27.8: injecting an NMI into a guest blocking by STI fails with qualification 3 on processors that check it; the model does.
        new("GuestNmiInjectionWithStiBlocking", K, "27.8", static (in VmEntryState s) => !InjectsNmi(s) || (s.Interruptibility & 1) == 0,
            VmEntryFailureQualification.NmiInjectionWithStiBlocking),
    ];

    private static bool LoadsDebugControls(in VmEntryState s) => (s.EntryControls & VmEntryControls.LoadDebugControls) != 0;
    private static bool LoadsEfer(in VmEntryState s) => (s.EntryControls & VmEntryControls.LoadIa32Efer) != 0;

    private static bool Cr0FixedBitsMet(in VmEntryState s)
    {
        ulong fixed0 = s.Capabilities.Cr0Fixed0;
        // Unrestricted guest relaxes the PE and PG fixed-1 bits (SDM 27.3.1.1, A.7).
        if (s.UnrestrictedGuest) fixed0 &= ~(VmEntryState.Cr0Pe | VmEntryState.Cr0Pg);
        ulong cr0 = s[VmcsField.GuestCr0];
        return (cr0 & fixed0) == fixed0 && (cr0 & ~s.Capabilities.Cr0Fixed1) == 0;
    }

    private static bool In64BitMode(in VmEntryState s) => s.Ia32eModeGuest && s.Segment(SegmentRegister.Cs).AccessRights.LongMode;

    private static bool InjectsExternalInterrupt(in VmEntryState s) => s.Injection.IsValid && s.Injection.Type == InterruptionType.ExternalInterrupt;
    private static bool InjectsNmi(in VmEntryState s) => s.Injection.IsValid && s.Injection.Type == InterruptionType.Nmi;

    private static bool AllUsable(in VmEntryState s, Func<GuestSegment, bool> rule)
    {
        foreach (SegmentRegister register in s_codeAndDataSegments)
        {
            GuestSegment segment = s.Segment(register);
            // CS is checked even when marked unusable: 27.3.1.2 names no unusable exemption for CS.
            if ((register == SegmentRegister.Cs || segment.Usable) && !rule(segment)) return false;
        }
        return true;
    }

    private static bool LegacyBasesFit(in VmEntryState s)
    {
        if (s.Segment(SegmentRegister.Cs).Base >> 32 != 0) return false;
        foreach (SegmentRegister register in (ReadOnlySpan<SegmentRegister>)[SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es])
        {
            GuestSegment segment = s.Segment(register);
            if (segment.Usable && segment.Base >> 32 != 0) return false;
        }
        return true;
    }

    /// <summary>DS, ES, FS, GS when usable: accessed, and a code segment must be readable (SDM 27.3.1.2).</summary>
    private static bool DataSegmentTypesValid(in VmEntryState s)
    {
        foreach (SegmentRegister register in s_dataSegments)
        {
            SegmentAccessRights ar = s.Segment(register).AccessRights;
            if (ar.Unusable) continue;
            if (!ar.Accessed) return false;
            if (ar.IsCode && (ar.Type & 2) == 0) return false;
        }
        return true;
    }

    /// <summary>Non-conforming code: CS.DPL = SS.DPL; conforming: CS.DPL &lt;= SS.DPL; type 3 (unrestricted): DPL 0 (SDM 27.3.1.2).</summary>
    private static bool CsDplValid(in VmEntryState s)
    {
        SegmentAccessRights cs = s.Segment(SegmentRegister.Cs).AccessRights;
        int ssDpl = s.Segment(SegmentRegister.Ss).AccessRights.Dpl;
        return cs.Type switch
        {
            9 or 11 => cs.Dpl == ssDpl,
            13 or 15 => cs.Dpl <= ssDpl,
            3 => cs.Dpl == 0,
            _ => true,
        };
    }

    /// <summary>Usable DS, ES, FS, GS that are data or non-conforming code (types 0-11): DPL &gt;= RPL (SDM 27.3.1.2).</summary>
    private static bool DataSegmentDplValid(in VmEntryState s)
    {
        if (s.UnrestrictedGuest) return true;
        foreach (SegmentRegister register in s_dataSegments)
        {
            GuestSegment segment = s.Segment(register);
            if (segment.Usable && segment.AccessRights.Type <= 11 && segment.AccessRights.Dpl < segment.Rpl) return false;
        }
        return true;
    }

    /// <summary>A usable LDTR: type 2, system descriptor, present, reserved bits 0, limit consistent with G (SDM 27.3.1.2).</summary>
    private static bool LdtrValid(GuestSegment ldtr) => !ldtr.Usable
        || (ldtr.AccessRights is { Type: 2, IsCodeOrData: false, Present: true, HasReservedBits: false } && ldtr.LimitMatchesGranularity);

    /// <summary>
    /// In HLT only external interrupts, NMIs, #DB, #MC and other events may be injected; in shutdown only NMIs and #MC
    /// (SDM 27.3.1.5, activity state).
    /// </summary>
    private static bool ActivityAllowsInjection(in VmEntryState s)
    {
        if (!s.Injection.IsValid) return true;
        InterruptionInfo e = s.Injection;
        return s[VmcsField.GuestActivityState] switch
        {
            1 => e.Type is InterruptionType.ExternalInterrupt or InterruptionType.Nmi or InterruptionType.OtherEvent
                || (e.Type == InterruptionType.HardwareException && e.Vector is ExceptionVector.Debug or ExceptionVector.MachineCheck),
            2 => e.Type == InterruptionType.Nmi || (e.Type == InterruptionType.HardwareException && e.Vector == ExceptionVector.MachineCheck),
            _ => true,
        };
    }

    /// <summary>
    /// With STI or MOV-SS blocking or in HLT, pending-debug BS (bit 14) must be 1 exactly when RFLAGS.TF is 1 and
    /// IA32_DEBUGCTL.BTF is 0 (SDM 27.3.1.5).
    /// </summary>
    private static bool PendingSingleStepConsistent(in VmEntryState s)
    {
        if ((s.Interruptibility & 3) == 0 && s[VmcsField.GuestActivityState] != 1) return true;
        bool bs = (s[VmcsField.GuestPendingDebugExceptions] & (1UL << 14)) != 0;
        bool expected = (s.GuestRflags & VmEntryState.RflagsTf) != 0 && (s[VmcsField.GuestIa32Debugctl] & 2) == 0;
        return bs == expected;
    }
}
