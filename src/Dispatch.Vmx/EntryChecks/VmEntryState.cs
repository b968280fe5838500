namespace Dispatch.Vmx;

/// <summary>
/// The VMCS and capabilities a VM-entry check reads, with the decoded controls most checks need. A struct passed by
/// reference, so running the checks allocates nothing.
/// </summary>
public readonly struct VmEntryState
{
    public VmEntryState(Vmcs vmcs, VmxCapabilities capabilities)
    {
        Vmcs = vmcs;
        Capabilities = capabilities;
    }

    /// <summary>A state whose every field read is also recorded in <paramref name="log"/> (see <see cref="VmEntryCheckCache"/>).</summary>
    internal VmEntryState(Vmcs vmcs, VmxCapabilities capabilities, VmEntryReadLog? log)
        : this(vmcs, capabilities) => Log = log;

    public Vmcs Vmcs { get; }
    public VmxCapabilities Capabilities { get; }

    /// <summary>When set, every field a check reads through this state is recorded.</summary>
    internal VmEntryReadLog? Log { get; }

    public ulong this[VmcsField field] => Read(field);

    /// <summary>Reads a field; all reads of a check go through here, so the log sees exactly the inputs of a check.</summary>
    internal ulong Read(VmcsField field)
    {
        ulong value = Vmcs.Read(field);
        Log?.Record(field);
        return value;
    }

    private uint Read32(VmcsField field) => (uint)Read(field);

    public PinBasedControls Pin => (PinBasedControls)Read32(VmcsField.PinBasedVmExecutionControls);
    public PrimaryProcessorControls Primary => (PrimaryProcessorControls)Read32(VmcsField.PrimaryProcessorBasedVmExecutionControls);

    /// <summary>The secondary controls, or none when "activate secondary controls" is 0 (SDM 25.6.2: then they are treated as 0).</summary>
    public SecondaryProcessorControls Secondary => (Primary & PrimaryProcessorControls.ActivateSecondaryControls) != 0
        ? (SecondaryProcessorControls)Read32(VmcsField.SecondaryProcessorBasedVmExecutionControls)
        : SecondaryProcessorControls.None;

    public VmExitControls ExitControls => (VmExitControls)Read32(VmcsField.PrimaryVmExitControls);
    public VmEntryControls EntryControls => (VmEntryControls)Read32(VmcsField.VmEntryControls);

    public bool Ia32eModeGuest => (EntryControls & VmEntryControls.Ia32eModeGuest) != 0;
    public bool UnrestrictedGuest => (Secondary & SecondaryProcessorControls.UnrestrictedGuest) != 0;
    public bool HostAddressSpaceSize => (ExitControls & VmExitControls.HostAddressSpaceSize) != 0;

    public InterruptionInfo Injection => new(Read32(VmcsField.VmEntryInterruptionInformation));
    public uint Interruptibility => Read32(VmcsField.GuestInterruptibilityState);
    public ulong GuestRflags => Read(VmcsField.GuestRflags);

    public GuestSegment Segment(SegmentRegister register) => new(Vmcs, register, Log);

    /// <summary>Whether an address has no bit set at or above MAXPHYADDR.</summary>
    public bool IsPhysicalAddress(ulong address) => Capabilities.PhysicalAddressWidth >= 64 || address >> Capabilities.PhysicalAddressWidth == 0;

    /// <summary>A 4 KiB-aligned physical address within MAXPHYADDR (SDM 27.2.1.1 for the bitmap and APIC pages).</summary>
    public bool IsPageAddress(ulong address) => (address & 0xFFF) == 0 && IsPhysicalAddress(address);


    /// <summary>A valid IA32_PAT value: every byte is 0, 1, 4, 5, 6 or 7 (SDM 27.2.2 and 27.3.1.1).</summary>
    public static bool IsValidPat(ulong pat)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong type = (pat >> (i * 8)) & 0xFF;
            if (type is 2 or 3 or > 7) return false;
        }
        return true;
    }

    /// <summary>EFER bits this model lets software set: SCE (0), LME (8), LMA (10), NXE (11).</summary>
    public const ulong EferDefinedBits = 0xD01;
    public const ulong EferLme = 1UL << 8;
    public const ulong EferLma = 1UL << 10;

    public const ulong Cr0Pe = 1UL << 0;
    public const ulong Cr0Pg = 1UL << 31;
    public const ulong Cr4Pae = 1UL << 5;
    public const ulong Cr4Pcide = 1UL << 17;

    public const ulong RflagsIf = 1UL << 9;
    public const ulong RflagsTf = 1UL << 8;
    public const ulong RflagsVm = 1UL << 17;

    /// <summary>An MSR load/store area: 16-byte aligned and its last byte within MAXPHYADDR (SDM 27.2.1.2, 27.2.1.3).</summary>
    public bool IsMsrArea(VmcsField address, VmcsField count)
    {
        ulong n = Read(count);
        if (n == 0) return true;
        ulong start = Read(address);
        return (start & 0xF) == 0 && IsPhysicalAddress(start + n * 16 - 1) && start + n * 16 - 1 >= start;
    }
}
