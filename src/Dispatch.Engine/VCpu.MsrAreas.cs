using Dispatch.Execution;
using Dispatch.Memory;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// The VMX MSR areas (Intel SDM Vol. 3C, 25.7.2, 25.8.2; 27.4 "Loading MSRs" on VM entry, 28.4 "Saving MSRs" and 28.6
/// "Loading MSRs" on VM exit). An area is an array of 16-byte entries in guest-physical memory: bits 31:0 the MSR index,
/// bits 63:32 reserved (must be 0), bits 127:64 the data. The VM-entry checks already made each area 16-byte aligned and
/// within the physical-address width; an entry outside RAM reads as all ones (its reserved bits are then set, so it
/// fails) and a store outside RAM is dropped, as for the other VMX data structures. Nothing here allocates unless a VMX
/// abort is reported, and nothing runs while the counts are zero.
/// </summary>
public sealed partial class VCpu
{
    private const int MsrAreaEntrySize = 16;

    /// <summary>Whether the VMCS the processor was loaded from lists any MSR to store or load on VM exit.</summary>
    private bool _exitUsesMsrAreas;

    /// <summary>
    /// Loads the VM-entry MSR-load area into the guest, in order, each entry as WRMSR at CPL 0 would load it (27.4).
    /// Returns 0, or the 1-based number of the first entry that fails: that fails the VM entry (exit reason 34, 27.8).
    /// Entries before it stay loaded, as the SDM allows.
    /// </summary>
    private uint LoadEntryMsrArea(uint count)
    {
        ulong area = Vmcs.Read(VmcsField.VmEntryMsrLoadAddress);
        uint max = Machine.Capabilities.MaxMsrListEntries;
        for (uint i = 0; i < count; i++)
        {
            if (i == max) return i + 1;
            ulong entry = area + (ulong)i * MsrAreaEntrySize;
            ulong header = ReadAreaQuadword(entry);
            uint msr = (uint)header;
            if (!IsLoadableAreaEntry(header) || !Processor.TryWriteMsr(msr, ReadAreaQuadword(entry + 8))) return i + 1;
        }
        return 0;
    }

    /// <summary>
    /// The checks 27.4 and 28.6 make on an entry of an MSR-load area before the write itself: reserved bits 63:32 clear,
    /// not IA32_FS_BASE or IA32_GS_BASE (loaded from the base fields instead), not an x2APIC register (0x800-0x8FF), not
    /// IA32_SMM_MONITOR_CTL (writable only in SMM, which the model never enters).
    /// </summary>
    private static bool IsLoadableAreaEntry(ulong header)
    {
        uint msr = (uint)header;
        return header >> 32 == 0 && msr != Msr.Ia32FsBase && msr != Msr.Ia32GsBase && msr != Msr.Ia32SmmMonitorCtl
            && !Msr.IsX2ApicRange(msr);
    }

    /// <summary>
    /// The MSR steps of a VM exit, after the guest state is saved: the guest's MSRs are stored into the VM-exit MSR-store
    /// area (28.4; skipped for a VM-entry failure, which saves no guest state, 27.8), then the VM-exit MSR-load area is
    /// processed (28.6). A failure in either is a VMX abort (28.7), returned as the exception the run ends with.
    /// <para>
    /// The host is the VMM in software: its MSRs are not part of the model, so each load entry is validated as the SDM
    /// says (the checks above, an MSR the model implements, and a value WRMSR accepts whatever the processor state) and
    /// has no further effect.
    /// </para>
    /// </summary>
    private VmxAbortException? ProcessExitMsrAreas(bool entryFailure)
    {
        uint max = Machine.Capabilities.MaxMsrListEntries;
        if (!entryFailure)
        {
            uint storeCount = Vmcs.Read32(VmcsField.VmExitMsrStoreCount);
            ulong storeArea = Vmcs.Read(VmcsField.VmExitMsrStoreAddress);
            for (uint i = 0; i < storeCount; i++)
            {
                ulong entry = storeArea + (ulong)i * MsrAreaEntrySize;
                ulong header = ReadAreaQuadword(entry);
                uint msr = (uint)header;
                // 28.4: reserved bits, an x2APIC register, or an MSR that cannot be read (here: one the model lacks).
                if (i == max || header >> 32 != 0 || Msr.IsX2ApicRange(msr) || !Processor.TryReadMsr(msr, out ulong value))
                    return new VmxAbortException(VmxAbortIndicator.SavingGuestMsrsFailed, i + 1, msr);
                WriteAreaQuadword(entry + 8, value);
            }
        }
        uint loadCount = Vmcs.Read32(VmcsField.VmExitMsrLoadCount);
        ulong loadArea = Vmcs.Read(VmcsField.VmExitMsrLoadAddress);
        for (uint i = 0; i < loadCount; i++)
        {
            ulong entry = loadArea + (ulong)i * MsrAreaEntrySize;
            ulong header = ReadAreaQuadword(entry);
            uint msr = (uint)header;
            if (i == max || !IsLoadableAreaEntry(header) || !Processor.IsWritableMsrValue(msr, ReadAreaQuadword(entry + 8)))
                return new VmxAbortException(VmxAbortIndicator.LoadingHostMsrsFailed, i + 1, msr);
        }
        return null;
    }

    /// <summary>Whether a VMCS lists MSRs for VM exits to store or load (read when the guest state is loaded).</summary>
    private static bool ExitUsesMsrAreas(Vmcs vmcs) =>
        (vmcs.Read32(VmcsField.VmExitMsrStoreCount) | vmcs.Read32(VmcsField.VmExitMsrLoadCount)) != 0;

    /// <summary>A quadword of an MSR area. Entries are 16-byte aligned, so it never straddles a page; outside RAM, all ones.</summary>
    private unsafe ulong ReadAreaQuadword(ulong physical)
    {
        byte* page = Machine.Memory.TryGetPage(physical);
        return page == null ? ulong.MaxValue : *(ulong*)(page + (physical & 0xFFF));
    }

    /// <summary>Stores a quadword of an MSR area through guest memory (so decoded code on the page is invalidated); outside RAM, dropped.</summary>
    private unsafe void WriteAreaQuadword(ulong physical, ulong value)
    {
        if (Machine.Memory.TryGetPage(physical) != null) Machine.Memory.WriteUInt64(new GuestPhysicalAddress(physical), value);
    }
}
