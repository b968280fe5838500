namespace Dispatch.Vmx;

/// <summary>
/// The IA32_VMX_* capability MSRs (0x480-0x491) of one modelled processor. Intel SDM Vol. 3D, Appendix A.
/// <see cref="Default"/> describes exactly what this model implements; a VMM reads it with <see cref="TryReadMsr"/>
/// and the VM-entry checks validate controls against it. A record, so a test or a user can derive a variant with <c>with</c>.
/// </summary>
public sealed record VmxCapabilities
{
    /// <summary>The VMCS revision identifier this model uses (IA32_VMX_BASIC bits 30:0).</summary>
    public const uint DefaultRevisionId = 1;

    /// <summary>Write-back, the memory type IA32_VMX_BASIC bits 53:50 report for VMCS regions (SDM A.1).</summary>
    public const ulong WriteBackMemoryType = 6;

    /// <summary>IA32_VMX_BASIC bit 55: the TRUE control MSRs 0x48D-0x490 exist (SDM A.1).</summary>
    public const ulong TrueControlsBit = 1UL << 55;

    /// <summary>IA32_VMX_MISC bit 29: VMWRITE may write VM-exit information fields (SDM A.6).</summary>
    public const ulong VmwriteAnyFieldBit = 1UL << 29;

    public ulong Basic { get; init; }
    public VmxControlCapability PinBased { get; init; }
    public VmxControlCapability ProcessorBased { get; init; }
    public VmxControlCapability Exit { get; init; }
    public VmxControlCapability Entry { get; init; }
    public ulong Misc { get; init; }
    public ulong Cr0Fixed0 { get; init; }
    public ulong Cr0Fixed1 { get; init; }
    public ulong Cr4Fixed0 { get; init; }
    public ulong Cr4Fixed1 { get; init; }
    public ulong VmcsEnum { get; init; }
    public VmxControlCapability ProcessorBased2 { get; init; }
    public ulong EptVpidCapabilities { get; init; }
    public VmxControlCapability TruePinBased { get; init; }
    public VmxControlCapability TrueProcessorBased { get; init; }
    public VmxControlCapability TrueExit { get; init; }
    public VmxControlCapability TrueEntry { get; init; }
    public ulong VmFunctions { get; init; }

    /// <summary>MAXPHYADDR used by the VM-entry checks for bitmap, MSR-area, EPTP and CR3 addresses (CPUID 80000008H:EAX[7:0]).</summary>
    public int PhysicalAddressWidth { get; init; } = 46;

    public uint RevisionId => (uint)(Basic & 0x7FFF_FFFF);
    public bool HasTrueControls => (Basic & TrueControlsBit) != 0;
    public bool VmwriteAnyField => (Misc & VmwriteAnyFieldBit) != 0;

    /// <summary>IA32_VMX_MISC bits 24:16: how many CR3-target values the processor supports (SDM A.6).</summary>
    public int Cr3TargetCount => (int)((Misc >> 16) & 0x1FF);

    /// <summary>
    /// The recommended maximum number of entries in each MSR list: 512 * (IA32_VMX_MISC[27:25] + 1) (Intel SDM Vol. 3D,
    /// A.6). Beyond it the SDM promises nothing; the model fails the entry that exceeds it.
    /// </summary>
    public uint MaxMsrListEntries => 512u * (uint)(((Misc >> 25) & 7) + 1);

    /// <summary>IA32_VMX_MISC bits 8:6: whether activity state 1 (HLT), 2 (shutdown), 3 (wait-for-SIPI) is supported (SDM A.6).</summary>
    public bool SupportsActivityState(uint state) => state == 0 || (state <= 3 && (Misc & (1UL << (int)(5 + state))) != 0);

    /// <summary>The control capabilities VM entry enforces: the TRUE MSRs when IA32_VMX_BASIC[55] is set (SDM A.3.1, A.3.2, A.4, A.5).</summary>
    public VmxControlCapability EffectivePinBased => HasTrueControls ? TruePinBased : PinBased;
    public VmxControlCapability EffectiveProcessorBased => HasTrueControls ? TrueProcessorBased : ProcessorBased;
    public VmxControlCapability EffectiveExit => HasTrueControls ? TrueExit : Exit;
    public VmxControlCapability EffectiveEntry => HasTrueControls ? TrueEntry : Entry;

    /// <summary>Reads a capability MSR by index; false for an index outside 0x480-0x491 (RDMSR would raise #GP).</summary>
    public bool TryReadMsr(uint index, out ulong value)
    {
        value = index switch
        {
            VmxMsr.Basic => Basic,
            VmxMsr.PinBasedControls => PinBased.MsrValue,
            VmxMsr.ProcessorBasedControls => ProcessorBased.MsrValue,
            VmxMsr.ExitControls => Exit.MsrValue,
            VmxMsr.EntryControls => Entry.MsrValue,
            VmxMsr.Misc => Misc,
            VmxMsr.Cr0Fixed0 => Cr0Fixed0,
            VmxMsr.Cr0Fixed1 => Cr0Fixed1,
            VmxMsr.Cr4Fixed0 => Cr4Fixed0,
            VmxMsr.Cr4Fixed1 => Cr4Fixed1,
            VmxMsr.VmcsEnum => VmcsEnum,
            VmxMsr.ProcessorBasedControls2 => ProcessorBased2.MsrValue,
            VmxMsr.EptVpidCapabilities => EptVpidCapabilities,
            VmxMsr.TruePinBasedControls => TruePinBased.MsrValue,
            VmxMsr.TrueProcessorBasedControls => TrueProcessorBased.MsrValue,
            VmxMsr.TrueExitControls => TrueExit.MsrValue,
            VmxMsr.TrueEntryControls => TrueEntry.MsrValue,
            VmxMsr.VmFunctions => VmFunctions,
            _ => 0,
        };
        return index is >= VmxMsr.Basic and <= VmxMsr.VmFunctions;
    }

    /// <summary>Whether a CR0 value has every fixed-1 bit set and no fixed-0 bit set (SDM A.7).</summary>
    public bool Cr0Permits(ulong cr0) => (cr0 & Cr0Fixed0) == Cr0Fixed0 && (cr0 & ~Cr0Fixed1) == 0;

    /// <summary>Whether a CR4 value has every fixed-1 bit set and no fixed-0 bit set (SDM A.8).</summary>
    public bool Cr4Permits(ulong cr4) => (cr4 & Cr4Fixed0) == Cr4Fixed0 && (cr4 & ~Cr4Fixed1) == 0;

    /// <summary>What this model implements; see <see cref="DefaultCapabilities"/> for the reasoning behind each value.</summary>
    public static VmxCapabilities Default { get; } = DefaultCapabilities.Create(vmwriteAnyField: false);

    /// <summary>The default capabilities with IA32_VMX_MISC bit 29 set, so VMWRITE may write exit-information fields.</summary>
    public static VmxCapabilities WithVmwriteAnyField { get; } = DefaultCapabilities.Create(vmwriteAnyField: true);
}
