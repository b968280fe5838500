using Dispatch.Vmx;
using static Dispatch.ControlRegisters;

namespace Dispatch.Execution;

/// <summary>
/// Linear-to-physical translation: IA-32e 4-level paging (Intel SDM Vol. 3A, 4.5) with every permission check, then EPT
/// (Vol. 3C, 29.3) when the VM-execution controls enable it. Results are cached in the software TLB.
/// </summary>
internal sealed unsafe partial class Processor
{
    /// <summary>MAXPHYADDR, as CPUID 0x80000008 reports it.</summary>
    internal const int PhysicalAddressBits = 46;
    private const ulong PhysicalAddressMask = ((1UL << PhysicalAddressBits) - 1) & ~0xFFFUL;

    private readonly SoftwareTlb _tlb;
    internal readonly ExecutionControls Controls = new();

    private const uint PfPresent = 1, PfWrite = 2, PfUser = 4, PfReserved = 8, PfFetch = 16;

    internal void FlushTlb() => _tlb.FlushAll();

    internal void FlushTlbPage(ulong linear) => _tlb.FlushPage(linear);

    /// <summary>Translates a linear address to the host address of its page, or raises #PF / an EPT exit.</summary>
    private byte* TranslateSlow(ulong linear, AccessKind kind, bool user, out ulong physicalPage)
    {
        if (!TryTranslate(linear, kind, user, out byte* page, out physicalPage)) throw ExecutionInterrupt.Instance;
        return page;
    }

    /// <summary>
    /// Translates a linear address to the host address of its page (null when nothing backs it). Returns false when the
    /// access faults: the fault is then recorded, either as a pending guest exception (#GP, #PF) or, with
    /// <see cref="_exitPending"/> set, as a VM exit (EPT violation or misconfiguration), and nothing is thrown. The memory
    /// fast path uses this form so that a fault (an MMIO store hitting an EPT hole, a demand-paging #PF) costs no .NET
    /// exception; <see cref="TranslateSlow"/> is the throwing form for instructions that unwind.
    /// </summary>
    private bool TryTranslate(ulong linear, AccessKind kind, bool user, out byte* page, out ulong physicalPage)
    {
        page = null;
        physicalPage = ulong.MaxValue;
        if (!IsCanonical(linear)) return RecordException(ExceptionVector.GeneralProtection, 0);
        if (!TryWalkGuestPageTables(linear, kind, user, out ulong physical, out bool writable, out bool userPage)) return false;
        ulong hostPhysical = physical;
        if (Controls.EptEnabled && !TryTranslateEpt(physical, kind, linear, finalTranslation: true, out hostPhysical)) return false;
        page = Memory.TryGetPage(hostPhysical & ~0xFFFUL);
        if (page == null)
        {
            // Nothing backs the address. Without EPT the access goes to no device: reads return all ones and writes are
            // dropped, as on a bus with nothing decoding the address; such pages are never cached.
            return true;
        }
        physicalPage = hostPhysical >> 12;
        if (kind == AccessKind.Fetch) Memory.CodePages.MarkCode(physicalPage);
        bool cacheable = kind != AccessKind.Write || (writable && !Memory.CodePages.IsCode(physicalPage));
        // With SMAP, whether a supervisor data access to a user page faults depends on RFLAGS.AC at the time of the
        // access, which the TLB does not key on: such translations are never cached.
        if (!user && userPage && kind != AccessKind.Fetch && (Cr4 & Cr4SMAP) != 0) cacheable = false;
        if (cacheable) _tlb.Insert(kind, linear, user, page, physicalPage);
        return true;
    }

    internal static bool IsCanonical(ulong linear) => Dispatch.Vmx.LinearAddress.IsCanonical(linear);

    /// <summary>
    /// Walks the guest's 4-level tables for <paramref name="linear"/>. Sets accessed bits on the way and the dirty bit on
    /// writes; records #PF with the SDM's error code (Vol. 3A, 4.7) and returns false on any violation.
    /// </summary>
    private bool TryWalkGuestPageTables(ulong linear, AccessKind kind, bool user, out ulong physical, out bool writableForTlb, out bool userPage)
    {
        physical = linear;
        writableForTlb = true;
        userPage = false;
        if ((Cr0 & Cr0PG) == 0) return true;
        bool nxe = (Efer & EferNXE) != 0;
        bool write = kind == AccessKind.Write, fetch = kind == AccessKind.Fetch;
        uint errorBase = (write ? PfWrite : 0) | (user ? PfUser : 0) | (fetch && (nxe || (Cr4 & Cr4SMEP) != 0) ? PfFetch : 0);
        ulong reservedHigh = ~((1UL << PhysicalAddressBits) - 1) & 0x000F_FFFF_FFFF_FFFF;
        if (!nxe) reservedHigh |= 1UL << 63;

        ulong table = Cr3 & PhysicalAddressMask;
        bool allWritable = true, allUser = true, anyNoExecute = false;
        int shift = 39;
        for (int level = 4; level >= 1; level--, shift -= 9)
        {
            ulong entryAddress = table + (((linear >> shift) & 0x1FF) << 3);
            ulong* entry = TryPagingEntry(entryAddress, linear);
            if (entry == null) return false;
            ulong e = *entry;
            if ((e & 1) == 0) return PageFault(linear, errorBase);
            bool large = level is 2 or 3 && (e & (1 << 7)) != 0;
            ulong reserved = reservedHigh | (level == 4 ? 1UL << 7 : 0);
            if (large) reserved |= level == 3 ? 0x3FFF_E000UL : 0x1F_E000UL;
            if ((e & reserved) != 0) return PageFault(linear, errorBase | PfPresent | PfReserved);
            allWritable &= (e & 2) != 0;
            allUser &= (e & 4) != 0;
            anyNoExecute |= nxe && (e & (1UL << 63)) != 0;
            if (level == 1 || large)
            {
                if (!PermissionsAllow(linear, kind, user, allWritable, allUser, anyNoExecute, errorBase)) return false;
                userPage = allUser;
                ulong set = 0x20 | (write ? 0x40UL : 0);
                if ((e & set) != set) *entry = e | set;
                // A read that did not set the dirty bit must not let a later write through the TLB without setting it.
                writableForTlb = write || (e & 0x40) != 0;
                writableForTlb &= user ? allWritable : allWritable || (Cr0 & Cr0WP) == 0;
                ulong pageMask = (1UL << shift) - 1;
                physical = ((e & PhysicalAddressMask) & ~pageMask) | (linear & pageMask);
                return true;
            }
            if ((e & 0x20) == 0) *entry = e | 0x20;
            table = e & PhysicalAddressMask;
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>The permission rules of Vol. 3A, 4.6; records #PF and returns false when they deny the access.</summary>
    private bool PermissionsAllow(ulong linear, AccessKind kind, bool user, bool allWritable, bool allUser, bool noExecute, uint errorBase)
    {
        uint error = errorBase | PfPresent;
        if (user && !allUser) return PageFault(linear, error);
        switch (kind)
        {
            case AccessKind.Write:
                if (!allWritable && (user || (Cr0 & Cr0WP) != 0)) return PageFault(linear, error);
                break;
            case AccessKind.Fetch:
                if (noExecute) return PageFault(linear, error);
                if (!user && allUser && (Cr4 & Cr4SMEP) != 0) return PageFault(linear, error);
                return true;
        }
        if (!user && allUser && (Cr4 & Cr4SMAP) != 0 && (_flags & Dispatch.Rflags.AC) == 0) return PageFault(linear, error);
        return true;
    }

    /// <summary>
    /// A paging-structure entry in guest-physical memory, through EPT when enabled; null (with the fault recorded) when it
    /// cannot be read.
    /// </summary>
    private ulong* TryPagingEntry(ulong guestPhysical, ulong linear)
    {
        ulong hostPhysical = guestPhysical;
        if (Controls.EptEnabled && !TryTranslateEpt(guestPhysical, AccessKind.Read, linear, finalTranslation: false, out hostPhysical)) return null;
        byte* page = Memory.TryGetPage(hostPhysical & ~0xFFFUL);
        // A paging structure outside RAM cannot be read: the processor would see all ones, which has reserved bits set.
        if (page == null)
        {
            PageFault(linear, PfPresent | PfReserved);
            return null;
        }
        return (ulong*)(page + (hostPhysical & 0xFF8));
    }

    /// <summary>Records a pending #PF for <paramref name="linear"/>; returns false so a walk can <c>return PageFault(...)</c>.</summary>
    private bool PageFault(ulong linear, uint errorCode)
    {
        PendingFaultAddress = linear;
        return RecordException(ExceptionVector.PageFault, errorCode);
    }

    /// <summary>The linear address of the pending #PF (CR2 once it is delivered; the exit qualification if it exits).</summary>
    internal ulong PendingFaultAddress;

    /// <summary>
    /// Translates a guest-physical address through the EPT paging structures (Intel SDM Vol. 3C, 29.3.2-29.3.3). Records
    /// an EPT violation (reason 48) or misconfiguration (reason 49) as a pending VM exit and returns false.
    /// </summary>
    private bool TryTranslateEpt(ulong guestPhysical, AccessKind kind, ulong linear, bool finalTranslation, out ulong hostPhysical)
    {
        hostPhysical = 0;
        ulong table = Controls.EptPointer & PhysicalAddressMask;
        ulong access = 7; // AND of R, W, X over the walk
        int shift = 39;
        for (int level = 4; level >= 1; level--, shift -= 9)
        {
            ulong entryAddress = table + (((guestPhysical >> shift) & 0x1FF) << 3);
            byte* page = Memory.TryGetPage(entryAddress & ~0xFFFUL);
            if (page == null) return EptMisconfiguration(guestPhysical);
            ulong e = *(ulong*)(page + (entryAddress & 0xFF8));
            ulong rwx = e & 7;
            access &= rwx;
            if (rwx == 0) return EptViolation(guestPhysical, linear, kind, access, finalTranslation);
            bool large = level is 2 or 3 && (e & (1 << 7)) != 0;
            bool leaf = level == 1 || large;
            // Write-only or write-execute without read is a misconfiguration (29.3.3.1), as are reserved bits.
            if ((rwx & 3) == 2 || (e & ~((1UL << PhysicalAddressBits) - 1) & 0x000F_FFFF_FFFF_F000) != 0)
                return EptMisconfiguration(guestPhysical);
            if (leaf)
            {
                ulong memoryType = (e >> 3) & 7;
                if (memoryType is 2 or 3 or 7) return EptMisconfiguration(guestPhysical);
                ulong needed = kind switch { AccessKind.Read => 1UL, AccessKind.Write => 2UL, _ => 4UL };
                if ((access & needed) == 0) return EptViolation(guestPhysical, linear, kind, access, finalTranslation);
                ulong pageMask = (1UL << shift) - 1;
                hostPhysical = ((e & PhysicalAddressMask) & ~pageMask) | (guestPhysical & pageMask);
                return true;
            }
            if (level == 4 && (e & (1 << 7)) != 0) return EptMisconfiguration(guestPhysical);
            table = e & PhysicalAddressMask;
        }
        throw new InvalidOperationException("unreachable");
    }

    private bool EptViolation(ulong guestPhysical, ulong linear, AccessKind kind, ulong access, bool finalTranslation)
    {
        ulong q = kind switch { AccessKind.Read => 1UL, AccessKind.Write => 2UL, _ => 4UL };
        q |= access << 3;
        q |= 1UL << 7; // guest-linear address valid: every access here comes from a linear address
        if (finalTranslation) q |= 1UL << 8;
        BeginExit(ExitReason.EptViolation, q);
        Exit.GuestPhysicalAddress = guestPhysical;
        Exit.GuestLinearAddress = linear;
        return false;
    }

    private bool EptMisconfiguration(ulong guestPhysical)
    {
        BeginExit(ExitReason.EptMisconfiguration, 0);
        Exit.GuestPhysicalAddress = guestPhysical;
        return false;
    }
}
