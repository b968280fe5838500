using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// Loading the processor from the guest-state area on VM entry (Intel SDM Vol. 3C, 27.3.2) and saving it back on VM exit
/// (28.3). General-purpose registers other than RSP are not in the VMCS: they stay in the processor.
/// </summary>
public sealed partial class VCpu
{
    /// <summary>
    /// Set when a run starts: its first load flushes the software TLB whatever changed, so that page tables the host
    /// edited between runs are walked again. Later loads (after a handler's VMCS writes) flush when VPID is off, as VM
    /// entries without VPID invalidate linear mappings (Intel SDM Vol. 3C, 29.4.3.1) and a handler may have edited the
    /// guest's page tables (an emulated mremap does); with VPID on, only when the translation regime changed (CR0, CR3,
    /// CR4, EFER, EPT controls), the VMM invalidating anything else itself. An entry that finds the VMCS unchanged loads
    /// nothing and does not flush.
    /// </summary>
    private bool _flushTlbOnLoad = true;

    private void LoadGuestState()
    {
        var v = Vmcs;
        var p = Processor;
        ulong oldCr0 = p.Cr0, oldCr3 = p.Cr3, oldCr4 = p.Cr4, oldEfer = p.Efer, oldEptPointer = p.Controls.EptPointer;
        bool oldEpt = p.Controls.EptEnabled;
        p.Cr0 = v.Read(VmcsField.GuestCr0);
        p.Cr3 = v.Read(VmcsField.GuestCr3);
        p.Cr4 = v.Read(VmcsField.GuestCr4);
        p.Gpr.Rsp = v.Read(VmcsField.GuestRsp);
        p.Rip = v.Read(VmcsField.GuestRip);
        p.SetFlags(v.Read(VmcsField.GuestRflags));
        p.Es = LoadSegment(VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights);
        p.Cs = LoadSegment(VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights);
        p.Ss = LoadSegment(VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights);
        p.Ds = LoadSegment(VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights);
        p.Fs = LoadSegment(VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights);
        p.Gs = LoadSegment(VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights);
        p.Ldtr = LoadSegment(VmcsField.GuestLdtrSelector, VmcsField.GuestLdtrBase, VmcsField.GuestLdtrLimit, VmcsField.GuestLdtrAccessRights);
        p.Tr = LoadSegment(VmcsField.GuestTrSelector, VmcsField.GuestTrBase, VmcsField.GuestTrLimit, VmcsField.GuestTrAccessRights);
        p.GdtrBase = v.Read(VmcsField.GuestGdtrBase);
        p.GdtrLimit = v.Read32(VmcsField.GuestGdtrLimit);
        p.IdtrBase = v.Read(VmcsField.GuestIdtrBase);
        p.IdtrLimit = v.Read32(VmcsField.GuestIdtrLimit);
        p.SysenterCs = v.Read32(VmcsField.GuestIa32SysenterCs);
        p.SysenterEsp = v.Read(VmcsField.GuestIa32SysenterEsp);
        p.SysenterEip = v.Read(VmcsField.GuestIa32SysenterEip);
        var entryControls = (VmEntryControls)v.Read32(VmcsField.VmEntryControls);
        if ((entryControls & VmEntryControls.LoadIa32Efer) != 0) p.Efer = v.Read(VmcsField.GuestIa32Efer);
        else
        {
            // Without "load IA32_EFER", LMA and LME follow the "IA-32e mode guest" control (27.3.2.1).
            ulong lm = ControlRegisters.EferLMA | ControlRegisters.EferLME;
            p.Efer = (entryControls & VmEntryControls.Ia32eModeGuest) != 0 ? p.Efer | lm : p.Efer & ~lm;
        }
        if ((entryControls & VmEntryControls.LoadIa32Pat) != 0) p.Pat = v.Read(VmcsField.GuestIa32Pat);
        // DR7 and IA32_DEBUGCTL are loaded only under "load debug controls" (27.3.2.1).
        if ((entryControls & VmEntryControls.LoadDebugControls) != 0)
        {
            p.Dr[7] = v.Read(VmcsField.GuestDr7);
            p.Debugctl = v.Read(VmcsField.GuestIa32Debugctl);
        }
        RememberRevertingLoads(entryControls, (VmExitControls)v.Read32(VmcsField.PrimaryVmExitControls));
        p.Interruptibility = v.Read32(VmcsField.GuestInterruptibilityState);
        p.Halted = v.Read32(VmcsField.GuestActivityState) == 1;
        p.Controls.Load(v);
        _exitUsesMsrAreas = ExitUsesMsrAreas(v);
        if (_flushTlbOnLoad || !p.Controls.Has(SecondaryProcessorControls.EnableVpid) || p.Cr0 != oldCr0 || p.Cr3 != oldCr3 || p.Cr4 != oldCr4 || p.Efer != oldEfer
            || p.Controls.EptEnabled != oldEpt || p.Controls.EptPointer != oldEptPointer)
        {
            p.FlushTlb();
            _flushTlbOnLoad = false;
        }
        _syncedSystemState = CaptureSystemState();
    }

    private SegmentRegister LoadSegment(VmcsField selector, VmcsField @base, VmcsField limit, VmcsField accessRights) => new()
    {
        Selector = (ushort)Vmcs.Read(selector),
        Base = Vmcs.Read(@base),
        Limit = Vmcs.Read32(limit),
        AccessRights = Vmcs.Read32(accessRights),
    };

    /// <summary>
    /// After a VM exit the guest state stays in the processor; the VMCS asks for it (<see cref="IGuestStateHolder"/>) when
    /// a guest-state field is first read or written, so an exit whose handler reads only exit information and registers
    /// saves nothing. The save is eager when EFER changed, because it then also updates a control field (the IA-32e mode
    /// guest entry control follows EFER.LMA), which is outside the guest-state area the deferral covers.
    /// </summary>
    private void DeferGuestStateSave()
    {
        if (Processor.Efer != _syncedSystemState.Efer) SaveGuestState();
        else Vmcs.DeferGuestStateSave(_guestStateSaver ??= new GuestStateSaver(this));
    }

    private GuestStateSaver? _guestStateSaver;

    /// <summary>The save the VMCS calls back; a private object, so that the callback is not part of the vCPU's API.</summary>
    private sealed class GuestStateSaver(VCpu vcpu) : IGuestStateHolder
    {
        public void SaveGuestState(Vmcs vmcs) => vcpu.SaveGuestState();
    }

    private void SaveGuestState()
    {
        var v = Vmcs;
        var p = Processor;
        v.Write(VmcsField.GuestRsp, p.Gpr.Rsp);
        v.Write(VmcsField.GuestRip, p.Rip);
        v.Write(VmcsField.GuestRflags, p.MaterializeFlags());
        v.Write(VmcsField.GuestInterruptibilityState, p.Interruptibility);
        v.Write(VmcsField.GuestActivityState, p.Halted ? 1u : 0u);
        // The rest of the guest state changes rarely (MOV CR, segment loads, WRMSR, event delivery...). It is compared with
        // what the VMCS already holds and written only when it differs: the VMCS ends up exactly as a full save leaves it.
        if (!SystemStateUnchanged())
        {
            SaveSystemState();
            _syncedSystemState = CaptureSystemState();
        }
    }

    /// <summary>
    /// Whether the processor's system state still equals what was last loaded or saved. Compared field by field in place:
    /// building a <see cref="SystemState"/> copy on every exit to compare it cost more than the rest of the save.
    /// </summary>
    private bool SystemStateUnchanged()
    {
        var p = Processor;
        ref readonly SystemState s = ref _syncedSystemState;
        return p.Cr0 == s.Cr0 && p.Cr3 == s.Cr3 && p.Cr4 == s.Cr4 && p.Efer == s.Efer
            && SameSegment(in p.Cs, in s.Cs) && SameSegment(in p.Ss, in s.Ss) && SameSegment(in p.Ds, in s.Ds)
            && SameSegment(in p.Es, in s.Es) && SameSegment(in p.Fs, in s.Fs) && SameSegment(in p.Gs, in s.Gs)
            && SameSegment(in p.Tr, in s.Tr) && SameSegment(in p.Ldtr, in s.Ldtr)
            && p.GdtrBase == s.GdtrBase && p.IdtrBase == s.IdtrBase && p.GdtrLimit == s.GdtrLimit && p.IdtrLimit == s.IdtrLimit
            && p.Dr[7] == s.Dr7 && p.Pat == s.Pat && p.Debugctl == s.Debugctl
            && p.SysenterCs == s.SysenterCs && p.SysenterEsp == s.SysenterEsp && p.SysenterEip == s.SysenterEip;
    }

    private static bool SameSegment(in SegmentRegister a, in SegmentRegister b) =>
        a.Base == b.Base && a.Limit == b.Limit && a.AccessRights == b.AccessRights && a.Selector == b.Selector;

    /// <summary>The guest's system state as last loaded from or saved to the VMCS.</summary>
    private SystemState _syncedSystemState;

    private SystemState CaptureSystemState()
    {
        var p = Processor;
        return new SystemState
        {
            Cr0 = p.Cr0, Cr3 = p.Cr3, Cr4 = p.Cr4, Dr7 = p.Dr[7], Efer = p.Efer, Pat = p.Pat, Debugctl = p.Debugctl,
            SysenterCs = p.SysenterCs, SysenterEsp = p.SysenterEsp, SysenterEip = p.SysenterEip,
            GdtrBase = p.GdtrBase, IdtrBase = p.IdtrBase, GdtrLimit = p.GdtrLimit, IdtrLimit = p.IdtrLimit,
            Es = p.Es, Cs = p.Cs, Ss = p.Ss, Ds = p.Ds, Fs = p.Fs, Gs = p.Gs, Ldtr = p.Ldtr, Tr = p.Tr,
        };
    }

    private void SaveSystemState()
    {
        var v = Vmcs;
        var p = Processor;
        v.Write(VmcsField.GuestCr0, p.Cr0);
        v.Write(VmcsField.GuestCr3, p.Cr3);
        v.Write(VmcsField.GuestCr4, p.Cr4);
        SaveSegment(p.Es, VmcsField.GuestEsSelector, VmcsField.GuestEsBase, VmcsField.GuestEsLimit, VmcsField.GuestEsAccessRights);
        SaveSegment(p.Cs, VmcsField.GuestCsSelector, VmcsField.GuestCsBase, VmcsField.GuestCsLimit, VmcsField.GuestCsAccessRights);
        SaveSegment(p.Ss, VmcsField.GuestSsSelector, VmcsField.GuestSsBase, VmcsField.GuestSsLimit, VmcsField.GuestSsAccessRights);
        SaveSegment(p.Ds, VmcsField.GuestDsSelector, VmcsField.GuestDsBase, VmcsField.GuestDsLimit, VmcsField.GuestDsAccessRights);
        SaveSegment(p.Fs, VmcsField.GuestFsSelector, VmcsField.GuestFsBase, VmcsField.GuestFsLimit, VmcsField.GuestFsAccessRights);
        SaveSegment(p.Gs, VmcsField.GuestGsSelector, VmcsField.GuestGsBase, VmcsField.GuestGsLimit, VmcsField.GuestGsAccessRights);
        SaveSegment(p.Ldtr, VmcsField.GuestLdtrSelector, VmcsField.GuestLdtrBase, VmcsField.GuestLdtrLimit, VmcsField.GuestLdtrAccessRights);
        SaveSegment(p.Tr, VmcsField.GuestTrSelector, VmcsField.GuestTrBase, VmcsField.GuestTrLimit, VmcsField.GuestTrAccessRights);
        v.Write(VmcsField.GuestGdtrBase, p.GdtrBase);
        v.Write(VmcsField.GuestGdtrLimit, p.GdtrLimit);
        v.Write(VmcsField.GuestIdtrBase, p.IdtrBase);
        v.Write(VmcsField.GuestIdtrLimit, p.IdtrLimit);
        v.Write(VmcsField.GuestIa32SysenterCs, p.SysenterCs);
        v.Write(VmcsField.GuestIa32SysenterEsp, p.SysenterEsp);
        v.Write(VmcsField.GuestIa32SysenterEip, p.SysenterEip);
        var exitControls = (VmExitControls)v.Read32(VmcsField.PrimaryVmExitControls);
        if ((exitControls & VmExitControls.SaveIa32Efer) != 0) v.Write(VmcsField.GuestIa32Efer, p.Efer);
        if ((exitControls & VmExitControls.SaveIa32Pat) != 0) v.Write(VmcsField.GuestIa32Pat, p.Pat);
        // DR7 and IA32_DEBUGCTL are saved only under "save debug controls" (28.3.1).
        if ((exitControls & VmExitControls.SaveDebugControls) != 0)
        {
            v.Write(VmcsField.GuestDr7, p.Dr[7]);
            v.Write(VmcsField.GuestIa32Debugctl, p.Debugctl);
        }
        // The IA-32e mode guest control reflects EFER.LMA on every exit (28.2 / 28.3).
        var entryControls = (VmEntryControls)v.Read32(VmcsField.VmEntryControls);
        entryControls = (p.Efer & ControlRegisters.EferLMA) != 0 ? entryControls | VmEntryControls.Ia32eModeGuest : entryControls & ~VmEntryControls.Ia32eModeGuest;
        v.Write(VmcsField.VmEntryControls, (uint)entryControls);
    }

    private void SaveSegment(in SegmentRegister s, VmcsField selector, VmcsField @base, VmcsField limit, VmcsField accessRights)
    {
        Vmcs.Write(selector, s.Selector);
        Vmcs.Write(@base, s.Base);
        Vmcs.Write(limit, s.Limit);
        Vmcs.Write(accessRights, s.AccessRights);
    }
}
