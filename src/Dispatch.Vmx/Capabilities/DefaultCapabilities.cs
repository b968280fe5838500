namespace Dispatch.Vmx;

/// <summary>
/// Builds the capability MSR values of the model. Each allowed-1 set lists the controls the engine implements; the
/// allowed-0 sets carry the architectural default-1 bits, which the non-TRUE MSRs report as must-be-1 and the TRUE MSRs
/// partly relax (Intel SDM Vol. 3D, A.2 "Reserved Controls and Default Settings").
/// </summary>
internal static class DefaultCapabilities
{
    // SDM A.2: default1 classes. Pin-based bits 1, 2, 4; primary bits 1, 4-6, 8, 13-16, 26; exit bits 0-8, 10, 11, 13, 14, 16, 17;
    // entry bits 0-8, 12. The TRUE MSRs let CR3-load/store exiting (15, 16), save/load debug controls (2) be 0.
    private const uint PinDefault1 = 0x0000_0016;
    private const uint PrimaryDefault1 = 0x0401_E172;
    private const uint PrimaryTrueDefault1 = 0x0400_6172;
    private const uint ExitDefault1 = 0x0003_6DFF;
    private const uint ExitTrueDefault1 = 0x0003_6DFB;
    private const uint EntryDefault1 = 0x0000_11FF;
    private const uint EntryTrueDefault1 = 0x0000_11FB;

    private const uint PinImplemented = (uint)(PinBasedControls.ExternalInterruptExiting | PinBasedControls.NmiExiting
        | PinBasedControls.VirtualNmis | PinBasedControls.ActivateVmxPreemptionTimer);

    private const uint PrimaryImplemented = (uint)(PrimaryProcessorControls.InterruptWindowExiting | PrimaryProcessorControls.UseTscOffsetting
        | PrimaryProcessorControls.HltExiting | PrimaryProcessorControls.InvlpgExiting | PrimaryProcessorControls.MwaitExiting
        | PrimaryProcessorControls.RdpmcExiting | PrimaryProcessorControls.RdtscExiting | PrimaryProcessorControls.Cr3LoadExiting
        | PrimaryProcessorControls.Cr3StoreExiting | PrimaryProcessorControls.Cr8LoadExiting | PrimaryProcessorControls.Cr8StoreExiting
        | PrimaryProcessorControls.UseTprShadow | PrimaryProcessorControls.NmiWindowExiting | PrimaryProcessorControls.MovDrExiting
        | PrimaryProcessorControls.UnconditionalIoExiting | PrimaryProcessorControls.UseIoBitmaps | PrimaryProcessorControls.MonitorTrapFlag
        | PrimaryProcessorControls.UseMsrBitmaps | PrimaryProcessorControls.MonitorExiting | PrimaryProcessorControls.PauseExiting
        | PrimaryProcessorControls.ActivateSecondaryControls);

    private const uint SecondaryImplemented = (uint)(SecondaryProcessorControls.EnableEpt | SecondaryProcessorControls.DescriptorTableExiting
        | SecondaryProcessorControls.EnableRdtscp | SecondaryProcessorControls.EnableVpid | SecondaryProcessorControls.WbinvdExiting
        | SecondaryProcessorControls.PauseLoopExiting | SecondaryProcessorControls.RdrandExiting | SecondaryProcessorControls.EnableInvpcid
        | SecondaryProcessorControls.RdseedExiting | SecondaryProcessorControls.EnableXsavesXrstors);

    private const uint ExitImplemented = (uint)(VmExitControls.HostAddressSpaceSize | VmExitControls.AcknowledgeInterruptOnExit
        | VmExitControls.SaveIa32Pat | VmExitControls.LoadIa32Pat | VmExitControls.SaveIa32Efer | VmExitControls.LoadIa32Efer
        | VmExitControls.SaveVmxPreemptionTimerValue);

    private const uint EntryImplemented = (uint)(VmEntryControls.Ia32eModeGuest | VmEntryControls.LoadIa32Pat | VmEntryControls.LoadIa32Efer);

    /// <summary>CR0.PE, CR0.NE and CR0.PG must be 1 in VMX operation without unrestricted guest (SDM A.7).</summary>
    public const ulong Cr0MustBeOne = 0x8000_0021;

    /// <summary>CR4.VMXE must be 1 (SDM A.8).</summary>
    public const ulong Cr4MustBeOne = 0x2000;

    /// <summary>CR4 bits the model supports: VME..OSXMMEXCPT (10:0), UMIP, VMXE, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE.</summary>
    public const ulong Cr4MayBeOne = 0x0077_2FFF;

    public static VmxCapabilities Create(bool vmwriteAnyField)
    {
        // IA32_VMX_BASIC (SDM A.1): revision 30:0, region size 44:32, memory type 53:50, TRUE controls bit 55.
        ulong basic = VmxCapabilities.DefaultRevisionId | (4096UL << 32) | (VmxCapabilities.WriteBackMemoryType << 50)
            | VmxCapabilities.TrueControlsBit;

        // IA32_VMX_MISC (SDM A.6): preemption timer ticks every 2^5 TSC cycles (4:0), HLT (6) and shutdown (7) activity
        // states, 4 CR3-target values (24:16), up to 512 MSRs in each list (27:25 = 0), optional VMWRITE to any field (29).
        ulong misc = 5UL | (1UL << 6) | (1UL << 7) | (4UL << 16) | (vmwriteAnyField ? VmxCapabilities.VmwriteAnyFieldBit : 0);

        // IA32_VMX_EPT_VPID_CAP (SDM A.10): 4-level walks (6), UC (8) and WB (14) EPT paging-structure memory types,
        // 2 MiB pages (16), INVEPT (20) single-context (25) and all-context (26); INVVPID (32) with all four types (40-43).
        ulong eptVpid = (1UL << 6) | (1UL << 8) | (1UL << 14) | (1UL << 16) | (1UL << 20) | (1UL << 25) | (1UL << 26)
            | (1UL << 32) | (1UL << 40) | (1UL << 41) | (1UL << 42) | (1UL << 43);

        return new VmxCapabilities
        {
            Basic = basic,
            PinBased = new(PinDefault1, PinDefault1 | PinImplemented),
            TruePinBased = new(PinDefault1, PinDefault1 | PinImplemented),
            ProcessorBased = new(PrimaryDefault1, PrimaryDefault1 | PrimaryImplemented),
            TrueProcessorBased = new(PrimaryTrueDefault1, PrimaryDefault1 | PrimaryImplemented),
            ProcessorBased2 = new(0, SecondaryImplemented),
            Exit = new(ExitDefault1, ExitDefault1 | ExitImplemented),
            TrueExit = new(ExitTrueDefault1, ExitDefault1 | ExitImplemented),
            Entry = new(EntryDefault1, EntryDefault1 | EntryImplemented),
            TrueEntry = new(EntryTrueDefault1, EntryDefault1 | EntryImplemented),
            Misc = misc,
            Cr0Fixed0 = Cr0MustBeOne,
            Cr0Fixed1 = 0xFFFF_FFFF,
            Cr4Fixed0 = Cr4MustBeOne,
            Cr4Fixed1 = Cr4MayBeOne,
            VmcsEnum = HighestVmcsIndex() << 1,
            EptVpidCapabilities = eptVpid,
            VmFunctions = 0,
        };
    }

    /// <summary>IA32_VMX_VMCS_ENUM bits 9:1: the highest index of any supported encoding (SDM A.9).</summary>
    private static ulong HighestVmcsIndex()
    {
        int highest = 0;
        foreach (VmcsField field in Enum.GetValues<VmcsField>())
            highest = Math.Max(highest, VmcsEncoding.Index((uint)field));
        return (ulong)highest;
    }
}
