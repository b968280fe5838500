using Dispatch.Memory;
using Dispatch.Vmx;
using static Dispatch.ControlRegisters;

namespace Dispatch.Guests;

/// <summary>
/// Builds the environment a 64-bit guest needs before its first instruction, in guest memory and in the VMCS, the way a
/// VMM's firmware or loader would: identity-mapped 4-level page tables, a GDT with kernel and user segments and a TSS,
/// an IDT area, and a guest-state, host-state and control area that pass VM-entry checks.
/// <para>Low-memory layout (guest-physical): PML4 0x1000, PDPT 0x2000, page directories from 0x3000, GDT 0x7000,
/// TSS 0x7100, IDT 0x8000, default stack top 0x80000. Code usually goes at 0x100000.</para>
/// </summary>
public static class LongModeGuest
{
    public const ulong Pml4Address = 0x1000;
    public const ulong PdptAddress = 0x2000;
    public const ulong PageDirectoryAddress = 0x3000;
    public const ulong GdtAddress = 0x7000;
    public const ulong TssAddress = 0x7100;
    public const ulong IdtAddress = 0x8000;
    public const ushort KernelCodeSelector = 0x08;
    public const ushort KernelDataSelector = 0x10;
    public const ushort UserDataSelector = 0x18;
    public const ushort UserCodeSelector = 0x20;
    public const ushort TssSelector = 0x28;

    /// <summary>Where flat images are loaded and started.</summary>
    public const ulong DefaultLoadAddress = 0x10_0000;

    /// <summary>Writes page tables, GDT and TSS into guest memory and a runnable 64-bit guest into the vCPU's VMCS.</summary>
    public static void Setup(VCpu vcpu, ulong entryPoint, LongModeGuestOptions? options = null)
    {
        options ??= new LongModeGuestOptions();
        var memory = vcpu.Machine.Memory;
        ulong mapSize = options.IdentityMapSize != 0 ? options.IdentityMapSize : RoundUp(memory.TotalSize, 2UL << 20);
        WritePageTables(memory, mapSize, user: options.Cpl == 3);
        WriteGdtAndTss(memory);
        WriteVmcs(vcpu, entryPoint, options);
    }

    private static ulong RoundUp(ulong value, ulong unit) => (value + unit - 1) / unit * unit;

    private static void WritePageTables(GuestMemory memory, ulong mapSize, bool user)
    {
        if (mapSize > 512UL << 30) throw new ArgumentOutOfRangeException(nameof(mapSize), "The identity map covers at most 512 GiB.");
        ulong directories = Math.Max(1, RoundUp(mapSize, 1UL << 30) >> 30);
        ulong needed = PageDirectoryAddress + directories * 0x1000;
        if (!memory.IsBacked(new GuestPhysicalAddress(Pml4Address), needed - Pml4Address))
            throw new ArgumentException($"Guest memory must back 0x{Pml4Address:X}-0x{needed:X} for the page tables.", nameof(memory));
        ulong flags = 0x3 | (user ? 0x4UL : 0); // present, writable, user
        memory.Write(new GuestPhysicalAddress(Pml4Address), PdptAddress | flags);
        for (ulong d = 0; d < directories; d++)
        {
            ulong directory = PageDirectoryAddress + d * 0x1000;
            memory.Write(new GuestPhysicalAddress(PdptAddress + d * 8), directory | flags);
            var entries = new ulong[512];
            for (ulong i = 0; i < 512; i++)
            {
                ulong physical = (d << 30) | (i << 21);
                entries[i] = physical < mapSize ? physical | flags | 0x80 : 0; // 2 MiB page
            }
            memory.Write(new GuestPhysicalAddress(directory), System.Runtime.InteropServices.MemoryMarshal.AsBytes(entries.AsSpan()));
        }
    }

    private static void WriteGdtAndTss(GuestMemory memory)
    {
        ulong tssLimit = 0x67;
        ulong tssLow = (tssLimit & 0xFFFF) | ((TssAddress & 0xFF_FFFF) << 16) | (0x89UL << 40) | (((TssAddress >> 24) & 0xFF) << 56);
        ulong[] gdt =
        [
            0,
            0x00AF_9A00_0000_FFFF, // kernel code: 64-bit, DPL 0
            0x00CF_9200_0000_FFFF, // kernel data
            0x00CF_F200_0000_FFFF, // user data: DPL 3 (SYSRET loads SS from STAR[63:48] + 8)
            0x00AF_FA00_0000_FFFF, // user code: 64-bit, DPL 3 (SYSRET loads CS from STAR[63:48] + 16)
            tssLow | (0x2UL << 40), // TSS, marked busy as TR holds it
            TssAddress >> 32,
        ];
        memory.Write(new GuestPhysicalAddress(GdtAddress), System.Runtime.InteropServices.MemoryMarshal.AsBytes(gdt.AsSpan()));
        // RSP0 in the TSS: interrupts from CPL 3 switch to the stack just below the IDT.
        memory.Write(new GuestPhysicalAddress(TssAddress + 4), 0x7FF0UL);
    }

    private static void WriteVmcs(VCpu vcpu, ulong entryPoint, LongModeGuestOptions o)
    {
        var v = vcpu.Vmcs;
        bool user = o.Cpl == 3;
        var primary = o.PrimaryControls | (o.SecondaryControls != 0 ? PrimaryProcessorControls.ActivateSecondaryControls : 0);
        // Each control word gets the bits the capability MSRs say must be 1 (SDM Appendix A.3-A.5), as a VMM must.
        var caps = vcpu.Machine.Capabilities;
        v.Write(VmcsField.PinBasedVmExecutionControls, caps.EffectivePinBased.Adjust((uint)o.PinControls));
        v.Write(VmcsField.PrimaryProcessorBasedVmExecutionControls, caps.EffectiveProcessorBased.Adjust((uint)primary));
        v.Write(VmcsField.SecondaryProcessorBasedVmExecutionControls, caps.ProcessorBased2.Adjust((uint)o.SecondaryControls));
        v.Write(VmcsField.ExceptionBitmap, o.ExceptionBitmap);
        v.Write(VmcsField.PrimaryVmExitControls, caps.EffectiveExit.Adjust((uint)(VmExitControls.HostAddressSpaceSize | VmExitControls.SaveIa32Efer | VmExitControls.LoadIa32Efer)));
        v.Write(VmcsField.VmEntryControls, caps.EffectiveEntry.Adjust((uint)(VmEntryControls.Ia32eModeGuest | VmEntryControls.LoadIa32Efer)));
        v.Write(VmcsField.VmcsLinkPointer, ulong.MaxValue);

        // CR0 and CR4 must hold the VMX fixed bits (CR4.VMXE among them); the guest sees CR4.VMXE clear through the shadow.
        ulong cr0 = Cr0PE | Cr0MP | Cr0ET | Cr0NE | Cr0WP | Cr0PG;
        ulong cr4 = Cr4PAE | Cr4OSFXSR | Cr4OSXMMEXCPT | Cr4VMXE;
        v.Write(VmcsField.GuestCr0, cr0);
        v.Write(VmcsField.GuestCr3, Pml4Address);
        v.Write(VmcsField.GuestCr4, cr4);
        v.Write(VmcsField.Cr4GuestHostMask, Cr4VMXE);
        v.Write(VmcsField.Cr4ReadShadow, cr4 & ~Cr4VMXE);
        v.Write(VmcsField.Cr0ReadShadow, cr0);
        v.Write(VmcsField.GuestDr7, 0x400);
        v.Write(VmcsField.GuestRsp, o.StackPointer);
        v.Write(VmcsField.GuestRip, entryPoint);
        v.Write(VmcsField.GuestRflags, 0x2);
        v.Write(VmcsField.GuestIa32Efer, EferLME | EferLMA | EferNXE | (o.EnableSyscall ? EferSCE : 0));
        v.Write(VmcsField.GuestIa32Pat, 0x0007_0406_0007_0406);

        var code = user ? SegmentRegister.FlatCode64(UserCodeSelector | 3, 3) : SegmentRegister.FlatCode64(KernelCodeSelector, 0);
        var data = user ? SegmentRegister.FlatData(UserDataSelector | 3, 3) : SegmentRegister.FlatData(KernelDataSelector, 0);
        code.AccessRights |= 1;
        data.AccessRights |= 1;
        WriteSegment(v, VmcsField.GuestCsSelector, code);
        WriteSegment(v, VmcsField.GuestSsSelector, data);
        WriteSegment(v, VmcsField.GuestDsSelector, data);
        WriteSegment(v, VmcsField.GuestEsSelector, data);
        WriteSegment(v, VmcsField.GuestFsSelector, data);
        WriteSegment(v, VmcsField.GuestGsSelector, data);
        WriteSegment(v, VmcsField.GuestLdtrSelector, SegmentRegister.Unusable);
        WriteSegment(v, VmcsField.GuestTrSelector, SegmentRegister.Tss64(TssSelector, TssAddress, 0x67));
        v.Write(VmcsField.GuestGdtrBase, GdtAddress);
        v.Write(VmcsField.GuestGdtrLimit, 7 * 8 - 1);
        v.Write(VmcsField.GuestIdtrBase, IdtAddress);
        v.Write(VmcsField.GuestIdtrLimit, 256 * 16 - 1);
        v.Write(VmcsField.GuestActivityState, 0);
        v.Write(VmcsField.GuestInterruptibilityState, 0);

        // Host state: where a VM exit returns the (modelled) processor. Valid per the host-state checks (27.2.2-27.2.4).
        v.Write(VmcsField.HostCr0, cr0 | Cr0PG);
        v.Write(VmcsField.HostCr3, Pml4Address);
        v.Write(VmcsField.HostCr4, cr4);
        v.Write(VmcsField.HostCsSelector, KernelCodeSelector);
        v.Write(VmcsField.HostSsSelector, KernelDataSelector);
        v.Write(VmcsField.HostDsSelector, KernelDataSelector);
        v.Write(VmcsField.HostEsSelector, KernelDataSelector);
        v.Write(VmcsField.HostFsSelector, KernelDataSelector);
        v.Write(VmcsField.HostGsSelector, KernelDataSelector);
        v.Write(VmcsField.HostTrSelector, TssSelector);
        v.Write(VmcsField.HostTrBase, TssAddress);
        v.Write(VmcsField.HostGdtrBase, GdtAddress);
        v.Write(VmcsField.HostIdtrBase, IdtAddress);
        v.Write(VmcsField.HostIa32Efer, EferLME | EferLMA | EferNXE);
        v.Write(VmcsField.HostIa32Pat, 0x0007_0406_0007_0406);
        v.Write(VmcsField.HostRip, 0xFFFF_FFFF_8100_0000);
        v.Write(VmcsField.HostRsp, 0xFFFF_FFFF_8100_8000);

        vcpu.Processor.Star = ((ulong)(UserDataSelector - 8) << 48) | ((ulong)KernelCodeSelector << 32);
    }

    /// <summary>
    /// Writes a 64-bit interrupt gate (type 0xE, present, DPL 0, kernel code selector) for <paramref name="vector"/> into
    /// the IDT that <see cref="Setup"/> points IDTR at, so the guest handles that vector itself.
    /// </summary>
    public static void SetInterruptGate(VirtualMachine vm, byte vector, ulong handler, int interruptStackTable = 0)
    {
        if (interruptStackTable is < 0 or > 7) throw new ArgumentOutOfRangeException(nameof(interruptStackTable));
        ulong low = (handler & 0xFFFF) | ((ulong)KernelCodeSelector << 16) | ((ulong)interruptStackTable << 32)
            | (0x8EUL << 40) | (((handler >> 16) & 0xFFFF) << 48);
        var gate = new GuestPhysicalAddress(IdtAddress + (ulong)vector * 16);
        vm.Memory.Write(gate, low);
        vm.Memory.Write(gate + 8, handler >> 32);
    }

    /// <summary>
    /// CS and SS of CPL 3 (flat 64-bit code and data, accessed), as an IRET to user mode loads them: lets a VMM enter user
    /// code with any register state, which SYSRET (RIP from RCX, RFLAGS from R11) cannot.
    /// </summary>
    internal static void WriteUserCodeAndStackSegments(Vmcs v)
    {
        var code = SegmentRegister.FlatCode64(UserCodeSelector | 3, 3);
        var data = SegmentRegister.FlatData(UserDataSelector | 3, 3);
        code.AccessRights |= 1;
        data.AccessRights |= 1;
        WriteSegment(v, VmcsField.GuestCsSelector, code);
        WriteSegment(v, VmcsField.GuestSsSelector, data);
    }

    private static void WriteSegment(Vmcs v, VmcsField selectorField, SegmentRegister s)
    {
        // Selector, limit, access rights and base fields of one register sit at the same index in their groups.
        int index = ((int)selectorField - (int)VmcsField.GuestEsSelector) / 2;
        v.Write(selectorField, s.Selector);
        v.Write((VmcsField)((uint)VmcsField.GuestEsLimit + (uint)(index * 2)), s.Limit);
        v.Write((VmcsField)((uint)VmcsField.GuestEsAccessRights + (uint)(index * 2)), s.AccessRights);
        v.Write((VmcsField)((uint)VmcsField.GuestEsBase + (uint)(index * 2)), s.Base);
    }
}
