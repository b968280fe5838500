using Dispatch.Vmx;
using static Dispatch.ControlRegisters;

namespace Dispatch.Execution;

/// <summary>
/// RDMSR and WRMSR. With "use MSR bitmaps" the 4 KiB bitmap decides (read-low at 0, read-high at 1024, write-low at 2048,
/// write-high at 3072; MSRs outside 0-0x1FFF and 0xC0000000-0xC0001FFF always exit); without it every access exits
/// (Intel SDM Vol. 3C, 25.6.9). MSRs the model lacks raise #GP(0), as unimplemented MSRs do on hardware.
/// </summary>
internal sealed partial class Processor
{
    private bool MsrExits(uint msr, bool write)
    {
        if (!Controls.Has(PrimaryProcessorControls.UseMsrBitmaps)) return true;
        int offset;
        if (msr <= 0x1FFF) offset = 0;
        else if (msr - 0xC000_0000 <= 0x1FFF) offset = 1024;
        else return true;
        if (write) offset += 2048;
        uint bit = msr & 0x1FFF;
        return (ReadPhysicalByte(Controls.MsrBitmap + (ulong)offset + (bit >> 3)) & (1 << (int)(bit & 7))) != 0;
    }

    /// <summary>RDMSR: the MSR's value, or #GP(0) for an MSR the model lacks.</summary>
    internal ulong ReadMsr(uint msr)
    {
        if (!TryReadMsr(msr, out ulong value)) RaiseException(ExceptionVector.GeneralProtection, 0);
        return value;
    }

    /// <summary>WRMSR: writes the MSR, or #GP(0) for an MSR the model lacks or a value WRMSR rejects.</summary>
    internal void WriteMsr(uint msr, ulong value)
    {
        if (!TryWriteMsr(msr, value)) RaiseException(ExceptionVector.GeneralProtection, 0);
    }

    /// <summary>
    /// The value RDMSR would return, without raising anything: false where RDMSR would raise #GP. Used by RDMSR and by
    /// the VM-exit MSR-store area (Intel SDM Vol. 3C, 28.4), which must not disturb the guest's event state.
    /// </summary>
    internal bool TryReadMsr(uint msr, out ulong value)
    {
        switch (msr)
        {
            case Msr.Ia32TimeStampCounter: value = GuestTsc(); return true;
            case Msr.Ia32ApicBase: value = ApicBase; return true;
            case Msr.Ia32FeatureControl: value = 1; return true; // locked, VMX disabled for the guest
            case Msr.Ia32SysenterCs: value = SysenterCs; return true;
            case Msr.Ia32SysenterEsp: value = SysenterEsp; return true;
            case Msr.Ia32SysenterEip: value = SysenterEip; return true;
            case Msr.Ia32MiscEnable: value = 1; return true; // fast strings
            case Msr.Ia32DebugCtl: value = Debugctl; return true;
            case Msr.Ia32Pat: value = Pat; return true;
            case Msr.Ia32Efer: value = Efer; return true;
            case Msr.Ia32Star: value = Star; return true;
            case Msr.Ia32Lstar: value = Lstar; return true;
            case Msr.Ia32Cstar: value = Cstar; return true;
            case Msr.Ia32Fmask: value = Sfmask; return true;
            case Msr.Ia32FsBase: value = Fs.Base; return true;
            case Msr.Ia32GsBase: value = Gs.Base; return true;
            case Msr.Ia32KernelGsBase: value = KernelGsBase; return true;
            case Msr.Ia32TscAux: value = TscAux; return true;
        }
        value = 0;
        return false;
    }

    /// <summary>
    /// Whether WRMSR could ever accept <paramref name="value"/> for <paramref name="msr"/>: the MSR exists in the model,
    /// is writable, and the value has no reserved bits set and is canonical where an address is expected. Rules that
    /// depend on the processor's current state (EFER.LME while paging is on) are left to <see cref="TryWriteMsr"/>.
    /// The VM-exit MSR-load area, whose MSRs belong to the host, is validated with this alone.
    /// </summary>
    internal static bool IsWritableMsrValue(uint msr, ulong value)
    {
        bool canonical = IsCanonical(value);
        return msr switch
        {
            Msr.Ia32TimeStampCounter or Msr.Ia32ApicBase or Msr.Ia32SysenterCs or Msr.Ia32Star or Msr.Ia32Fmask => true,
            Msr.Ia32SysenterEsp or Msr.Ia32SysenterEip or Msr.Ia32Lstar or Msr.Ia32Cstar => canonical,
            Msr.Ia32FsBase or Msr.Ia32GsBase or Msr.Ia32KernelGsBase => canonical,
            Msr.Ia32DebugCtl => (value & ~0x3UL) == 0,
            Msr.Ia32Pat => VmEntryState.IsValidPat(value),
            Msr.Ia32Efer => (value & ~(EferSCE | EferLME | EferLMA | EferNXE)) == 0,
            Msr.Ia32TscAux => value >> 32 == 0,
            _ => false,
        };
    }

    /// <summary>
    /// WRMSR without raising anything: false (and nothing written) where WRMSR would raise #GP. Used by WRMSR and by the
    /// VM-entry MSR-load area (Intel SDM Vol. 3C, 27.4), whose entries load "as WRMSR would".
    /// </summary>
    internal bool TryWriteMsr(uint msr, ulong value)
    {
        if (!IsWritableMsrValue(msr, value)) return false;
        switch (msr)
        {
            case Msr.Ia32TimeStampCounter: TscOffset += (long)(value - GuestTsc()); return true;
            case Msr.Ia32ApicBase: ApicBase = value; return true;
            case Msr.Ia32SysenterCs: SysenterCs = value & 0xFFFF_FFFF; return true;
            case Msr.Ia32SysenterEsp: SysenterEsp = value; return true;
            case Msr.Ia32SysenterEip: SysenterEip = value; return true;
            case Msr.Ia32DebugCtl: Debugctl = value; return true;
            case Msr.Ia32Pat: Pat = value; return true;
            case Msr.Ia32Efer:
                // LME cannot change while paging is on; LMA is read-only (Vol. 3A, 9.8.5).
                if (((value ^ Efer) & EferLME) != 0 && (Cr0 & Cr0PG) != 0) return false;
                if (((value ^ Efer) & EferNXE) != 0) FlushTlb();
                Efer = (value & ~EferLMA) | (Efer & EferLMA);
                return true;
            case Msr.Ia32Star: Star = value; return true;
            case Msr.Ia32Lstar: Lstar = value; return true;
            case Msr.Ia32Cstar: Cstar = value; return true;
            case Msr.Ia32Fmask: Sfmask = value & 0xFFFF_FFFF; return true;
            case Msr.Ia32FsBase: Fs.Base = value; return true;
            case Msr.Ia32GsBase: Gs.Base = value; return true;
            case Msr.Ia32KernelGsBase: KernelGsBase = value; return true;
            case Msr.Ia32TscAux: TscAux = value; return true;
        }
        return false;
    }
}
