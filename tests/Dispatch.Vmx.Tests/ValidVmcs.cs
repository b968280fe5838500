namespace Dispatch.Vmx.Tests;

/// <summary>Builds a VMCS that passes every VM-entry check against the default capabilities: a 64-bit guest on a 64-bit host.</summary>
internal static class ValidVmcs
{
    public const ulong Cr0 = 0x8005_0033;   // PE, MP, ET, NE, WP, PG
    public const ulong Cr4 = 0x2020;        // PAE, VMXE
    public const ulong Efer = 0x500;        // LME, LMA
    public const ulong Pat = 0x0007_0406_0007_0406;

    public static Vmcs Create(VmxCapabilities? capabilities = null)
    {
        var caps = capabilities ?? VmxCapabilities.Default;
        var v = new Vmcs();

        v.Write(VmcsField.PinBasedVmExecutionControls, caps.EffectivePinBased.Adjust((uint)(PinBasedControls.ExternalInterruptExiting
            | PinBasedControls.NmiExiting | PinBasedControls.VirtualNmis | PinBasedControls.ActivateVmxPreemptionTimer)));
        v.Write(VmcsField.PrimaryProcessorBasedVmExecutionControls, caps.EffectiveProcessorBased.Adjust((uint)(PrimaryProcessorControls.HltExiting
            | PrimaryProcessorControls.UseIoBitmaps | PrimaryProcessorControls.UseMsrBitmaps | PrimaryProcessorControls.UseTprShadow
            | PrimaryProcessorControls.ActivateSecondaryControls)));
        v.Write(VmcsField.SecondaryProcessorBasedVmExecutionControls, (uint)(SecondaryProcessorControls.EnableEpt | SecondaryProcessorControls.EnableVpid));
        v.Write(VmcsField.PrimaryVmExitControls, caps.EffectiveExit.Adjust((uint)(VmExitControls.SaveDebugControls | VmExitControls.HostAddressSpaceSize
            | VmExitControls.AcknowledgeInterruptOnExit | VmExitControls.SaveIa32Pat | VmExitControls.LoadIa32Pat | VmExitControls.SaveIa32Efer
            | VmExitControls.LoadIa32Efer | VmExitControls.SaveVmxPreemptionTimerValue)));
        v.Write(VmcsField.VmEntryControls, caps.EffectiveEntry.Adjust((uint)(VmEntryControls.LoadDebugControls | VmEntryControls.Ia32eModeGuest
            | VmEntryControls.LoadIa32Pat | VmEntryControls.LoadIa32Efer)));
        v.Write(VmcsField.IoBitmapAAddress, 0x10000);
        v.Write(VmcsField.IoBitmapBAddress, 0x11000);
        v.Write(VmcsField.MsrBitmapsAddress, 0x12000);
        v.Write(VmcsField.VirtualApicAddress, 0x13000);
        v.Write(VmcsField.EptPointer, 0x20000 | (3 << 3) | 6);
        v.Write(VmcsField.VirtualProcessorIdentifier, 1);

        v.Write(VmcsField.HostCr0, Cr0);
        v.Write(VmcsField.HostCr3, 0x5000);
        v.Write(VmcsField.HostCr4, Cr4);
        v.Write(VmcsField.HostCsSelector, 0x08);
        v.Write(VmcsField.HostSsSelector, 0x10);
        v.Write(VmcsField.HostDsSelector, 0x10);
        v.Write(VmcsField.HostEsSelector, 0x10);
        v.Write(VmcsField.HostTrSelector, 0x18);
        v.Write(VmcsField.HostTrBase, 0x8000);
        v.Write(VmcsField.HostGdtrBase, 0x6000);
        v.Write(VmcsField.HostIdtrBase, 0x7000);
        v.Write(VmcsField.HostRip, 0xFFFF_8000_0000_1000);
        v.Write(VmcsField.HostRsp, 0xFFFF_8000_0000_2000);
        v.Write(VmcsField.HostIa32Efer, Efer);
        v.Write(VmcsField.HostIa32Pat, Pat);

        v.Write(VmcsField.GuestCr0, Cr0);
        v.Write(VmcsField.GuestCr3, 0x1000);
        v.Write(VmcsField.GuestCr4, Cr4);
        v.Write(VmcsField.GuestDr7, 0x400);
        v.Write(VmcsField.GuestRflags, 0x2);
        v.Write(VmcsField.GuestRip, 0x40_1000);
        v.Write(VmcsField.GuestRsp, 0x40_8000);
        v.Write(VmcsField.GuestIa32Efer, Efer);
        v.Write(VmcsField.GuestIa32Pat, Pat);
        Seg(v, SegmentRegister.Cs).Set(0x08, 0, 0xFFFF_FFFF, 0xA09B);
        foreach (var r in new[] { SegmentRegister.Ss, SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs })
            Seg(v, r).Set(0x10, 0, 0xFFFF_FFFF, 0xC093);
        Seg(v, SegmentRegister.Ldtr).Set(0, 0, 0, SegmentAccessRights.UnusableBit);
        Seg(v, SegmentRegister.Tr).Set(0x18, 0x2000, 0x67, 0x8B);
        v.Write(VmcsField.GuestGdtrBase, 0x3000);
        v.Write(VmcsField.GuestGdtrLimit, 0x27);
        v.Write(VmcsField.GuestIdtrBase, 0x4000);
        v.Write(VmcsField.GuestIdtrLimit, 0xFFF);
        v.Write(VmcsField.VmcsLinkPointer, ulong.MaxValue);
        return v;
    }

    public static GuestSegment Seg(Vmcs v, SegmentRegister r) => new(v, r);

    public static void SetBits(this Vmcs v, VmcsField f, ulong bits) => v.Write(f, v.Read(f) | bits);
    public static void ClearBits(this Vmcs v, VmcsField f, ulong bits) => v.Write(f, v.Read(f) & ~bits);

    public static void Inject(this Vmcs v, byte vector, InterruptionType type, bool errorCode = false) =>
        v.Write(VmcsField.VmEntryInterruptionInformation, InterruptionInfo.Create(vector, type, errorCode).Raw);
}
