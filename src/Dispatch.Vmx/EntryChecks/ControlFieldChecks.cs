namespace Dispatch.Vmx;

/// <summary>Checks on the VM-execution, VM-exit and VM-entry control fields: Intel SDM Vol. 3C, 27.2.1. A failure is VMfailValid(7).</summary>
internal static class ControlFieldChecks
{
    private const VmEntryCheckKind K = VmEntryCheckKind.Control;

    public static readonly VmEntryCheck[] All =
    [
        new("PinBasedControlsAllowed", K, "27.2.1.1", static (in VmEntryState s) => s.Capabilities.EffectivePinBased.Permits((uint)s.Pin)),
        new("PrimaryProcessorControlsAllowed", K, "27.2.1.1", static (in VmEntryState s) => s.Capabilities.EffectiveProcessorBased.Permits((uint)s.Primary)),
        new("SecondaryProcessorControlsAllowed", K, "27.2.1.1", static (in VmEntryState s) => s.Capabilities.ProcessorBased2.Permits((uint)s.Secondary)),
        new("Cr3TargetCountSupported", K, "27.2.1.1",
            static (in VmEntryState s) => s[VmcsField.Cr3TargetCount] <= (ulong)s.Capabilities.Cr3TargetCount),
        new("IoBitmapAAddressValid", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Primary & PrimaryProcessorControls.UseIoBitmaps) == 0 || s.IsPageAddress(s[VmcsField.IoBitmapAAddress])),
        new("IoBitmapBAddressValid", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Primary & PrimaryProcessorControls.UseIoBitmaps) == 0 || s.IsPageAddress(s[VmcsField.IoBitmapBAddress])),
        new("MsrBitmapAddressValid", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Primary & PrimaryProcessorControls.UseMsrBitmaps) == 0 || s.IsPageAddress(s[VmcsField.MsrBitmapsAddress])),
        new("VirtualApicAddressValid", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Primary & PrimaryProcessorControls.UseTprShadow) == 0 || s.IsPageAddress(s[VmcsField.VirtualApicAddress])),
        // With a TPR shadow and without virtual-interrupt delivery, TPR threshold bits 31:4 must be 0. The comparison of
        // bits 3:0 with VTPR needs the virtual-APIC page in memory: the vCPU applies it (VCpu.TprShadow.cs).
        new("TprThresholdReservedBitsZero", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Primary & PrimaryProcessorControls.UseTprShadow) == 0
                || (s.Secondary & SecondaryProcessorControls.VirtualInterruptDelivery) != 0
                || (s[VmcsField.TprThreshold] & 0xFFFF_FFF0) == 0),
        new("VirtualNmisRequireNmiExiting", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Pin & PinBasedControls.VirtualNmis) == 0 || (s.Pin & PinBasedControls.NmiExiting) != 0),
        new("NmiWindowExitingRequiresVirtualNmis", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Primary & PrimaryProcessorControls.NmiWindowExiting) == 0 || (s.Pin & PinBasedControls.VirtualNmis) != 0),
        new("VpidNonZero", K, "27.2.1.1",
            static (in VmEntryState s) => (s.Secondary & SecondaryProcessorControls.EnableVpid) == 0 || s[VmcsField.VirtualProcessorIdentifier] != 0),
        new("EptPointerMemoryTypeSupported", K, "27.2.1.1", static (in VmEntryState s) => !EptOn(s) || EptMemoryTypeSupported(s)),
        new("EptPointerWalkLengthFour", K, "27.2.1.1", static (in VmEntryState s) => !EptOn(s) || ((s[VmcsField.EptPointer] >> 3) & 7) == 3),
        new("EptPointerAccessDirtySupported", K, "27.2.1.1",
            static (in VmEntryState s) => !EptOn(s) || (s[VmcsField.EptPointer] & (1UL << 6)) == 0 || (s.Capabilities.EptVpidCapabilities & (1UL << 21)) != 0),
        new("EptPointerReservedBitsZero", K, "27.2.1.1",
            static (in VmEntryState s) => !EptOn(s) || ((s[VmcsField.EptPointer] & 0xF80) == 0 && s.IsPhysicalAddress(s[VmcsField.EptPointer]))),
        new("UnrestrictedGuestRequiresEpt", K, "27.2.1.1", static (in VmEntryState s) => !s.UnrestrictedGuest || EptOn(s)),
        new("ExitControlsAllowed", K, "27.2.1.2", static (in VmEntryState s) => s.Capabilities.EffectiveExit.Permits((uint)s.ExitControls)),
        new("PreemptionTimerSaveRequiresActivation", K, "27.2.1.2",
            static (in VmEntryState s) => (s.ExitControls & VmExitControls.SaveVmxPreemptionTimerValue) == 0
                || (s.Pin & PinBasedControls.ActivateVmxPreemptionTimer) != 0),
        new("ExitMsrStoreAreaValid", K, "27.2.1.2", static (in VmEntryState s) => s.IsMsrArea(VmcsField.VmExitMsrStoreAddress, VmcsField.VmExitMsrStoreCount)),
        new("ExitMsrLoadAreaValid", K, "27.2.1.2", static (in VmEntryState s) => s.IsMsrArea(VmcsField.VmExitMsrLoadAddress, VmcsField.VmExitMsrLoadCount)),
        new("EntryControlsAllowed", K, "27.2.1.3", static (in VmEntryState s) => s.Capabilities.EffectiveEntry.Permits((uint)s.EntryControls)),
        new("EntryMsrLoadAreaValid", K, "27.2.1.3", static (in VmEntryState s) => s.IsMsrArea(VmcsField.VmEntryMsrLoadAddress, VmcsField.VmEntryMsrLoadCount)),
        // Event injection (27.2.1.3): only when the valid bit (31) of the VM-entry interruption-information field is set.
        new("EventInjectionTypeValid", K, "27.2.1.3",
            static (in VmEntryState s) => !s.Injection.IsValid || (s.Injection.Type != (InterruptionType)1
                && (s.Injection.Type != InterruptionType.OtherEvent || s.Capabilities.EffectiveProcessorBased.MayBeOne((uint)PrimaryProcessorControls.MonitorTrapFlag)))),
        new("EventInjectionNmiVectorIsTwo", K, "27.2.1.3",
            static (in VmEntryState s) => !s.Injection.IsValid || s.Injection.Type != InterruptionType.Nmi || s.Injection.Vector == ExceptionVector.Nmi),
        new("EventInjectionExceptionVectorBelow32", K, "27.2.1.3",
            static (in VmEntryState s) => !s.Injection.IsValid || s.Injection.Type != InterruptionType.HardwareException || s.Injection.Vector <= 31),
        new("EventInjectionOtherEventVectorZero", K, "27.2.1.3",
            static (in VmEntryState s) => !s.Injection.IsValid || s.Injection.Type != InterruptionType.OtherEvent || s.Injection.Vector == 0),
        new("EventInjectionErrorCodeConsistent", K, "27.2.1.3", static (in VmEntryState s) => !s.Injection.IsValid || s.Injection.HasErrorCode == MustDeliverErrorCode(s)),
        new("EventInjectionReservedBitsZero", K, "27.2.1.3", static (in VmEntryState s) => !s.Injection.IsValid || (s.Injection.Raw & 0x7FFF_F000) == 0),
        new("EventInjectionErrorCodeUpperBitsZero", K, "27.2.1.3",
            static (in VmEntryState s) => !s.Injection.IsValid || !s.Injection.HasErrorCode || (s[VmcsField.VmEntryExceptionErrorCode] & 0xFFFF_0000) == 0),
        new("EventInjectionInstructionLengthValid", K, "27.2.1.3",
            static (in VmEntryState s) => !s.Injection.IsValid
                || s.Injection.Type is not (InterruptionType.SoftwareInterrupt or InterruptionType.PrivilegedSoftwareException or InterruptionType.SoftwareException)
                || s[VmcsField.VmEntryInstructionLength] is >= 1 and <= 15),
    ];

    private static bool EptOn(in VmEntryState s) => (s.Secondary & SecondaryProcessorControls.EnableEpt) != 0;

    /// <summary>EPTP bits 2:0: 0 (UC) if IA32_VMX_EPT_VPID_CAP[8], 6 (WB) if bit 14 (SDM 27.2.1.1, A.10).</summary>
    private static bool EptMemoryTypeSupported(in VmEntryState s)
    {
        ulong type = s[VmcsField.EptPointer] & 7;
        ulong caps = s.Capabilities.EptVpidCapabilities;
        return (type == 0 && (caps & (1UL << 8)) != 0) || (type == 6 && (caps & (1UL << 14)) != 0);
    }

    /// <summary>
    /// The deliver-error-code bit must be 1 exactly when protected mode is on (always without unrestricted guest), the
    /// type is a hardware exception and the vector is #DF, #TS, #NP, #SS, #GP, #PF, #AC or #CP (SDM 27.2.1.3).
    /// </summary>
    private static bool MustDeliverErrorCode(in VmEntryState s)
    {
        bool protectedMode = !s.UnrestrictedGuest || (s[VmcsField.GuestCr0] & VmEntryState.Cr0Pe) != 0;
        return protectedMode && s.Injection.Type == InterruptionType.HardwareException && ExceptionVector.PushesErrorCode(s.Injection.Vector);
    }
}
