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

    internal ulong ReadMsr(uint msr)
    {
        switch (msr)
        {
            case Msr.Ia32TimeStampCounter: return GuestTsc();
            case Msr.Ia32ApicBase: return ApicBase;
            case Msr.Ia32FeatureControl: return 1; // locked, VMX disabled for the guest
            case Msr.Ia32SysenterCs: return SysenterCs;
            case Msr.Ia32SysenterEsp: return SysenterEsp;
            case Msr.Ia32SysenterEip: return SysenterEip;
            case Msr.Ia32MiscEnable: return 1; // fast strings
            case Msr.Ia32DebugCtl: return Debugctl;
            case Msr.Ia32Pat: return Pat;
            case Msr.Ia32Efer: return Efer;
            case Msr.Ia32Star: return Star;
            case Msr.Ia32Lstar: return Lstar;
            case Msr.Ia32Cstar: return Cstar;
            case Msr.Ia32Fmask: return Sfmask;
            case Msr.Ia32FsBase: return Fs.Base;
            case Msr.Ia32GsBase: return Gs.Base;
            case Msr.Ia32KernelGsBase: return KernelGsBase;
            case Msr.Ia32TscAux: return TscAux;
        }
        RaiseException(ExceptionVector.GeneralProtection, 0);
        return 0;
    }

    internal void WriteMsr(uint msr, ulong value)
    {
        bool canonical = IsCanonical(value);
        switch (msr)
        {
            case Msr.Ia32TimeStampCounter: TscOffset += (long)(value - GuestTsc()); return;
            case Msr.Ia32ApicBase: ApicBase = value; return;
            case Msr.Ia32SysenterCs: SysenterCs = value & 0xFFFF_FFFF; return;
            case Msr.Ia32SysenterEsp when canonical: SysenterEsp = value; return;
            case Msr.Ia32SysenterEip when canonical: SysenterEip = value; return;
            case Msr.Ia32DebugCtl when (value & ~0x3UL) == 0: Debugctl = value; return;
            case Msr.Ia32Pat when VmEntryState.IsValidPat(value): Pat = value; return;
            case Msr.Ia32Efer:
                // LME cannot change while paging is on; LMA is read-only (Vol. 3A, 9.8.5).
                if ((value & ~(EferSCE | EferLME | EferLMA | EferNXE)) != 0) break;
                if (((value ^ Efer) & EferLME) != 0 && (Cr0 & Cr0PG) != 0) break;
                if (((value ^ Efer) & EferNXE) != 0) FlushTlb();
                Efer = (value & ~EferLMA) | (Efer & EferLMA);
                return;
            case Msr.Ia32Star: Star = value; return;
            case Msr.Ia32Lstar when canonical: Lstar = value; return;
            case Msr.Ia32Cstar when canonical: Cstar = value; return;
            case Msr.Ia32Fmask: Sfmask = value & 0xFFFF_FFFF; return;
            case Msr.Ia32FsBase when canonical: Fs.Base = value; return;
            case Msr.Ia32GsBase when canonical: Gs.Base = value; return;
            case Msr.Ia32KernelGsBase when canonical: KernelGsBase = value; return;
            case Msr.Ia32TscAux when value >> 32 == 0: TscAux = value; return;
        }
        RaiseException(ExceptionVector.GeneralProtection, 0);
    }
}
