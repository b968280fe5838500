using System.Buffers.Binary;
using Dispatch.Execution.Simd;
using Dispatch.Vmx;
using Iced.Intel;
using static Dispatch.ControlRegisters;
using static Dispatch.Execution.Simd.XsaveLayout;

namespace Dispatch.Execution;

/// <summary>
/// The XSAVE feature set for the x87 and SSE state components (Intel SDM Vol. 1, chapter 13; Vol. 2 XSAVE, XSAVEOPT,
/// XSAVEC, XRSTOR, XGETBV, XSETBV). The legacy region is the FXSAVE image (<see cref="WriteFxsaveImage"/>); what the
/// feature set adds is which parts of it each instruction writes or loads, the XSAVE header, XCR0 and XINUSE.
/// <para>XINUSE is exact: a component is reported in use unless it is in its initial configuration (the SDM allows a
/// processor to report 1 for a component in its initial configuration; the engine never does). XSAVEOPT uses the init
/// optimisation but not the modified optimisation (which the SDM makes optional): the engine keeps no XRSTOR_INFO.</para>
/// </summary>
internal sealed partial class Processor
{
    private enum XsaveForm : byte { Standard, Optimised, Compacted }

    /// <summary>CR4 bits MOV to CR4 accepts: OSXSAVE only when the XSAVE feature set is reported by CPUID.</summary>
    private static readonly ulong WritableCr4Bits = Cr4Supported & ~(IsImplemented ? 0 : Cr4OSXSAVE);

    /// <summary>XINUSE (SDM Vol. 1, 13.6) restricted to the implemented components.</summary>
    internal ulong ComponentsInUse()
    {
        ulong inUse = X87StateIsInitial() ? 0 : X87;
        if (Mxcsr != MxcsrInitial) return inUse | Sse;
        for (int i = 0; i < 16; i++)
            if (Xmm[i] != default) return inUse | Sse;
        return inUse;
    }

    private ExecutionStatus XsaveInstruction(ref Instruction ins)
    {
        // Vol. 2 exception tables: #UD (no OSXSAVE, LOCK), then #NM (CR0.TS; CR0.EM is not checked), then #GP alignment.
        if ((Cr4 & Cr4OSXSAVE) == 0 || ins.HasLockPrefix) RaiseException(ExceptionVector.InvalidOpcode);
        if ((Cr0 & Cr0TS) != 0) RaiseException(ExceptionVector.DeviceNotAvailable);
        ulong address = EffectiveAddress(in ins);
        if ((address & (Alignment - 1)) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
        // RFBM: the requested-feature bitmap, XCR0 AND EDX:EAX.
        ulong rfbm = Xcr0 & ((Gpr.Rdx << 32) | (uint)Gpr.Rax);
        switch (ins.Mnemonic)
        {
            case Mnemonic.Xsave: SaveExtendedState(address, rfbm, XsaveForm.Standard, wide: false); break;
            case Mnemonic.Xsave64: SaveExtendedState(address, rfbm, XsaveForm.Standard, wide: true); break;
            case Mnemonic.Xsaveopt: SaveExtendedState(address, rfbm, XsaveForm.Optimised, wide: false); break;
            case Mnemonic.Xsaveopt64: SaveExtendedState(address, rfbm, XsaveForm.Optimised, wide: true); break;
            case Mnemonic.Xsavec: SaveExtendedState(address, rfbm, XsaveForm.Compacted, wide: false); break;
            case Mnemonic.Xsavec64: SaveExtendedState(address, rfbm, XsaveForm.Compacted, wide: true); break;
            case Mnemonic.Xrstor: RestoreExtendedState(address, rfbm, wide: false); break;
            default: RestoreExtendedState(address, rfbm, wide: true); break;
        }
        return ExecutionStatus.Continue;
    }

    /// <summary>XSAVE (13.7), XSAVEOPT (13.9) and XSAVEC (13.10).</summary>
    private void SaveExtendedState(ulong address, ulong rfbm, XsaveForm form, bool wide)
    {
        ulong inUse = ComponentsInUse();
        // XSAVE saves every requested component; XSAVEOPT and XSAVEC skip those in their initial configuration.
        ulong saved = form == XsaveForm.Standard ? rfbm : rfbm & inUse;
        // MXCSR goes with the SSE component. XSAVE and XSAVEOPT write it whenever RFBM[1] (or RFBM[2]) is set; XSAVEC
        // only when it saves the component (XINUSE[1] = 0 implies MXCSR = 1F80H here, see ComponentsInUse).
        bool mxcsr = form == XsaveForm.Compacted ? (saved & Sse) != 0 : (rfbm & (Sse | Avx)) != 0;

        Span<byte> area = stackalloc byte[AreaSize];
        WriteFxsaveImage(area, Mxcsr, wide);
        ulong xstateBv;
        int headerEnd;
        if (form == XsaveForm.Compacted)
        {
            // XSAVEC writes XSTATE_BV = RFBM AND XINUSE and XCOMP_BV = bit 63 | RFBM, and nothing else of the header.
            xstateBv = saved;
            BinaryPrimitives.WriteUInt64LittleEndian(area[XcompBvOffset..], CompactedFormat | rfbm);
            headerEnd = XcompBvOffset + 8;
        }
        else
        {
            // XSAVE and XSAVEOPT update only the requested bits of XSTATE_BV (a read of the header, then a write).
            ulong old = ReadMemory(address + XstateBvOffset, 8);
            xstateBv = (old & ~rfbm) | (inUse & rfbm);
            headerEnd = XstateBvOffset + 8;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(area[XstateBvOffset..], xstateBv);

        // Every page written is checked before the first byte is, so a fault leaves the area as it was.
        int first = (saved & X87) != 0 ? 0 : mxcsr ? MxcsrOffset : (saved & Sse) != 0 ? XmmStart : XstateBvOffset;
        ProbeWritable(address + (ulong)first, headerEnd - first);
        if ((saved & X87) != 0)
        {
            WriteBytes(address, area[..X87EnvironmentEnd]);
            WriteBytes(address + X87RegistersStart, area[X87RegistersStart..X87RegistersEnd]);
        }
        if (mxcsr) WriteBytes(address + MxcsrOffset, area[MxcsrOffset..MxcsrEnd]);
        if ((saved & Sse) != 0) WriteBytes(address + XmmStart, area[XmmStart..XmmEnd]);
        WriteBytes(address + XstateBvOffset, area[XstateBvOffset..headerEnd]);
    }

    /// <summary>XRSTOR in its standard (13.8.1) and compacted (13.8.2) forms, with the init optimisation.</summary>
    private void RestoreExtendedState(ulong address, ulong rfbm, bool wide)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        ReadBytes(address + XstateBvOffset, header);
        ulong xstateBv = BinaryPrimitives.ReadUInt64LittleEndian(header);
        ulong xcompBv = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        bool compacted = (xcompBv & CompactedFormat) != 0;
        if (!compacted)
        {
            // Standard form: XSTATE_BV within XCR0, header bytes 23:8 (XCOMP_BV and the next 8 bytes) zero.
            if ((xstateBv & ~Xcr0) != 0 || header[8..24].IndexOfAnyExcept((byte)0) >= 0)
                RaiseException(ExceptionVector.GeneralProtection, 0);
        }
        else
        {
            // Compacted form: XCOMP_BV[62:0] within XCR0, XSTATE_BV within XCOMP_BV, header bytes 63:16 zero.
            ulong format = xcompBv & ~CompactedFormat;
            if ((format & ~Xcr0) != 0 || (xstateBv & ~format) != 0 || header[16..].IndexOfAnyExcept((byte)0) >= 0)
                RaiseException(ExceptionVector.GeneralProtection, 0);
        }
        ulong restored = rfbm & xstateBv, initialised = rfbm & ~xstateBv;
        // The standard form loads MXCSR whenever RFBM[1] (or RFBM[2]) is set, even if XSTATE_BV[1] is clear; the
        // compacted form loads it with the rest of the SSE component and initialises it with it.
        bool loadsMxcsr = compacted ? (restored & Sse) != 0 : (rfbm & (Sse | Avx)) != 0;

        Span<byte> legacy = stackalloc byte[LegacyRegionSize];
        if (restored != 0 || loadsMxcsr) ReadBytes(address, legacy[..XmmEnd]);
        uint mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(legacy[MxcsrOffset..]);
        if (loadsMxcsr && (mxcsr & ~MxcsrMask) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);

        // No fault past this point: the state changes all at once.
        if ((restored & X87) != 0)
        {
            ReadX87Image(legacy);
            ReadX87Pointers(legacy, wide);
        }
        else if ((initialised & X87) != 0)
        {
            InitializeX87State();
        }
        if (loadsMxcsr) Mxcsr = mxcsr;
        if ((restored & Sse) != 0)
        {
            ReadXmmImage(legacy);
        }
        else if ((initialised & Sse) != 0)
        {
            for (int i = 0; i < 16; i++) Xmm[i] = default;
            if (compacted) Mxcsr = MxcsrInitial;
        }
    }

    /// <summary>Raises the fault a write of <paramref name="length"/> bytes at <paramref name="linear"/> would raise, writing nothing.</summary>
    private unsafe void ProbeWritable(ulong linear, int length)
    {
        bool user = Cpl == 3;
        TranslateSlow(linear, AccessKind.Write, user, out _);
        ulong last = linear + (ulong)length - 1;
        if (((linear ^ last) & ~0xFFFUL) != 0) TranslateSlow(last, AccessKind.Write, user, out _);
    }

    /// <summary>XGETBV: XCR0, or XCR0 AND XINUSE for ECX = 1 (reported in CPUID.(EAX=0DH,ECX=1):EAX[2]).</summary>
    private ExecutionStatus ReadExtendedControlRegister(ref Instruction ins)
    {
        if ((Cr4 & Cr4OSXSAVE) == 0 || ins.HasLockPrefix) RaiseException(ExceptionVector.InvalidOpcode);
        ulong value = (uint)Gpr.Rcx switch
        {
            0 => Xcr0,
            1 => Xcr0 & ComponentsInUse(),
            _ => RaiseGeneralProtection(),
        };
        Gpr.Rax = (uint)value;
        Gpr.Rdx = value >> 32;
        return ExecutionStatus.Continue;
    }

    private ulong RaiseGeneralProtection()
    {
        RaiseException(ExceptionVector.GeneralProtection, 0);
        return 0;
    }

    /// <summary>
    /// XSETBV's effect with its value checks (SDM Vol. 2 XSETBV, #GP(0) conditions other than CPL): only XCR0 exists,
    /// bit 0 (x87) must be 1, only supported bits may be 1, and AVX (bit 2) would need SSE (bit 1). Returns false, changing
    /// nothing, where XSETBV would raise #GP(0).
    /// </summary>
    internal bool TrySetExtendedControlRegister(uint index, ulong value)
    {
        if (!IsImplemented || index != 0) return false;
        if ((value & X87) == 0 || (value & ~SupportedComponents) != 0) return false;
        if ((value & Avx) != 0 && (value & Sse) == 0) return false;
        Xcr0 = value;
        return true;
    }
}
