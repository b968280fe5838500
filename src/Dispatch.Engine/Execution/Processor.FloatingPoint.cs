using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Dispatch.Execution.Simd;
using Dispatch.Vmx;
using Iced.Intel;
using static Dispatch.ControlRegisters;

namespace Dispatch.Execution;

/// <summary>
/// x87, MMX and SSE to SSE4.2 (plus CRC32). The architectural checks (CR0.EM/TS/MP, CR4.OSFXSR/OSXMMEXCPT, alignment,
/// pending x87 exceptions, unmasked SIMD exceptions) and all guest memory and register traffic happen here; the
/// arithmetic itself runs as the host's own instruction through <see cref="HostStubs"/> (see there for why).
/// <para>Unmasked SIMD exceptions: the host runs with all exceptions masked, so an unmasked one is recognised from the
/// flags it raised. The destination is then left unchanged and #XM (CR4.OSXMMEXCPT = 1) or #UD is raised; MXCSR gets the
/// pre-computation flags (IE, DE, ZE) if one of them is unmasked, else every flag raised (SDM Vol. 1, 11.5.1). One
/// difference from hardware remains: an unmasked underflow is recognised only when the result is also inexact (the
/// masked rule).</para>
/// </summary>
internal sealed unsafe partial class Processor
{
    private const uint MxcsrFlags = 0x3F, MxcsrMasks = 0x1F80;
    private readonly byte[] _simdContextArray = GC.AllocateArray<byte>(HostStubs.ContextSize + 64, pinned: true);
    private readonly Dictionary<StubKey, nint> _simdStubs = [];

    private byte* SimdContext
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            byte* p = (byte*)Unsafe.AsPointer(ref _simdContextArray[0]);
            return (byte*)(((nint)p + 63) & ~(nint)63);
        }
    }

    private ExecutionStatus FloatingPointInstruction(ref Instruction ins, int size)
    {
        _ = size;
        var traits = SimdTraits.For(in ins);
        switch (traits.Kind)
        {
            case SimdKind.Unsupported:
                RaiseException(ExceptionVector.InvalidOpcode);
                break;
            case SimdKind.Special:
                return SoftwareSimdInstruction(ref ins);
        }
        bool usesMm = UsesMmOrStRegisters(in ins);
        CheckSimdAvailable(traits.Kind, usesMm);
        return RunOnHost(ref ins, traits, usesMm || traits.Kind is SimdKind.X87 or SimdKind.X87Control or SimdKind.X87NoWait or SimdKind.Mmx);
    }

    private static bool UsesMmOrStRegisters(in Instruction ins)
    {
        for (int i = 0; i < ins.OpCount; i++)
        {
            if (ins.GetOpKind(i) != OpKind.Register) continue;
            var r = ins.GetOpRegister(i);
            if (r is >= Register.MM0 and <= Register.MM7 or >= Register.ST0 and <= Register.ST7) return true;
        }
        return false;
    }

    /// <summary>Device-not-available and invalid-opcode rules of SDM Vol. 3A, Table 2-2 and Vol. 2 exception tables.</summary>
    private void CheckSimdAvailable(SimdKind kind, bool usesMm)
    {
        switch (kind)
        {
            case SimdKind.Integer:
                return;
            case SimdKind.X87: case SimdKind.X87Control: case SimdKind.X87NoWait:
                if ((Cr0 & (Cr0EM | Cr0TS)) != 0) RaiseException(ExceptionVector.DeviceNotAvailable);
                break;
            case SimdKind.Mmx:
                if ((Cr0 & Cr0EM) != 0) RaiseException(ExceptionVector.InvalidOpcode);
                if ((Cr0 & Cr0TS) != 0) RaiseException(ExceptionVector.DeviceNotAvailable);
                break;
            default:
                if ((Cr0 & Cr0EM) != 0 || (Cr4 & Cr4OSFXSR) == 0) RaiseException(ExceptionVector.InvalidOpcode);
                if ((Cr0 & Cr0TS) != 0) RaiseException(ExceptionVector.DeviceNotAvailable);
                break;
        }
        if ((kind is SimdKind.X87 or SimdKind.X87Control or SimdKind.Mmx || usesMm) && X87ExceptionPending())
            RaiseException(ExceptionVector.FloatingPointError);
    }

    /// <summary>An unmasked x87 exception waits for the next waiting x87 or MMX instruction (SDM Vol. 1, 8.6).</summary>
    private bool X87ExceptionPending() => (FpuStatusWord & 0x80) != 0 || (FpuStatusWord & ~FpuControlWord & 0x3F) != 0;

    private ExecutionStatus RunOnHost(ref Instruction ins, SimdTraits traits, bool fullState)
    {
        byte* ctx = SimdContext;
        Instruction host = ins;
        Span<int> guestOfSlot = stackalloc int[HostStubs.MaxXmmSlots];
        int slots = 0;
        if (traits.ImplicitXmm0 && !fullState)
        {
            guestOfSlot[0] = 0;
            slots = 1;
            Unsafe.Write(ctx + HostStubs.XmmSlots, Xmm[0]);
        }
        Register gpr0 = Register.None, gpr1 = Register.None;
        int gpr0Operand = -1, gpr1Operand = -1;
        ulong address = 0;
        int memorySize = 0, memoryOperand = 0;
        ulong operandKey = 0;
        for (int i = 0; i < ins.OpCount; i++)
        {
            ushort keyPart;
            switch (ins.GetOpKind(i))
            {
                case OpKind.Register:
                {
                    var r = ins.GetOpRegister(i);
                    if (r is >= Register.XMM0 and <= Register.XMM15)
                    {
                        if (!fullState)
                        {
                            int guest = r - Register.XMM0, slot = -1;
                            for (int k = 0; k < slots; k++) if (guestOfSlot[k] == guest) slot = k;
                            if (slot < 0)
                            {
                                slot = slots++;
                                guestOfSlot[slot] = guest;
                                Unsafe.Write(ctx + HostStubs.XmmSlots + 16 * slot, Xmm[guest]);
                            }
                            r = Register.XMM0 + slot;
                            host.SetOpRegister(i, r);
                        }
                    }
                    else if (r.IsGPR() && IsEncodableGpr(ins.Code, i))
                    {
                        int width = r.GetSize();
                        ulong value = ReadRegister(r);
                        if (gpr0 == Register.None)
                        {
                            gpr0 = r; gpr0Operand = i;
                            *(ulong*)(ctx + HostStubs.R8) = value;
                            r = HostGpr(Register.R8, width);
                        }
                        else
                        {
                            gpr1 = r; gpr1Operand = i;
                            *(ulong*)(ctx + HostStubs.R9) = value;
                            r = HostGpr(Register.R9, width);
                        }
                        host.SetOpRegister(i, r);
                    }
                    else if (!(r.IsGPR() || r is >= Register.MM0 and <= Register.MM7 or >= Register.ST0 and <= Register.ST7))
                    {
                        RaiseException(ExceptionVector.InvalidOpcode);
                    }
                    keyPart = (ushort)r;
                    break;
                }
                case OpKind.Memory:
                    address = EffectiveAddress(in ins);
                    memoryOperand = i;
                    memorySize = ins.MemorySize.GetSize();
                    if (memorySize is 0 or > HostStubs.MemorySlotSize) RaiseException(ExceptionVector.InvalidOpcode);
                    if (memorySize == 16 && !traits.Unaligned && (address & 15) != 0 && traits.Kind == SimdKind.Sse)
                        RaiseException(ExceptionVector.GeneralProtection, 0);
                    host.MemoryBase = Register.R11;
                    host.MemoryIndex = Register.None;
                    host.MemoryIndexScale = 1;
                    host.MemoryDisplacement64 = HostStubs.MemorySlot;
                    host.MemoryDisplSize = 8;
                    host.SegmentPrefix = Register.None;
                    keyPart = 0xFFFF;
                    break;
                case OpKind.Immediate8:
                    keyPart = 0xFFFE;
                    break;
                default:
                    RaiseException(ExceptionVector.InvalidOpcode);
                    return ExecutionStatus.Continue;
            }
            operandKey |= (ulong)keyPart << (16 * i);
        }
        if (memorySize != 0 && IsRead(traits.Access(memoryOperand))) ReadBytes(address, new Span<byte>(ctx + HostStubs.MemorySlot, memorySize));

        *(ulong*)(ctx + HostStubs.Rax) = Gpr.Rax;
        *(ulong*)(ctx + HostStubs.Rcx) = Gpr.Rcx;
        *(ulong*)(ctx + HostStubs.Rdx) = Gpr.Rdx;
        *(ulong*)(ctx + HostStubs.FlagsIn) = MaterializeFlags() & Dispatch.Rflags.Status;
        uint mxcsrIn = (Mxcsr | MxcsrMasks) & ~MxcsrFlags;
        *(uint*)(ctx + HostStubs.MxcsrIn) = mxcsrIn;
        if (fullState) WriteFxsaveImage(new Span<byte>(ctx + HostStubs.GuestImage, 512), mxcsrIn, wide: true);

        byte immediate = ins.OpCount > 0 && ins.GetOpKind(ins.OpCount - 1) == OpKind.Immediate8 ? ins.Immediate8 : (byte)0;
        var key = new StubKey(ins.Code, operandKey, immediate, fullState);
        if (!_simdStubs.TryGetValue(key, out nint stub))
        {
            stub = HostStubs.Get(in key, in host, fullState ? 0 : slots);
            _simdStubs[key] = stub;
        }
        ((delegate* unmanaged[SuppressGCTransition]<byte*, void>)stub)(ctx);

        // SIMD floating-point exceptions: a raised, unmasked one cancels the whole instruction.
        uint raised = *(uint*)(ctx + HostStubs.MxcsrOut) & MxcsrFlags;
        uint unmasked = raised & ~(Mxcsr >> 7) & MxcsrFlags;
        if (unmasked != 0)
        {
            Mxcsr |= (unmasked & 7) != 0 ? raised & 7 : raised;
            RaiseException((Cr4 & Cr4OSXMMEXCPT) != 0 ? ExceptionVector.SimdFloatingPoint : ExceptionVector.InvalidOpcode);
        }

        ushort fsw = fullState ? BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(ctx + HostStubs.GuestImage + 2, 2)) : (ushort)0;
        if (memorySize != 0 && IsWrite(traits.Access(memoryOperand)))
        {
            // An x87 store with an unmasked exception other than precision leaves memory unchanged.
            ushort fcw = fullState ? BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(ctx + HostStubs.GuestImage, 2)) : (ushort)0x3F;
            bool suppressed = fullState && (fsw & ~fcw & 0x1F) != 0;
            if (ins.Mnemonic is Mnemonic.Fnstenv or Mnemonic.Fstenv or Mnemonic.Fnsave or Mnemonic.Fsave)
                PatchStoredEnvironment(new Span<byte>(ctx + HostStubs.MemorySlot, memorySize));
            if (!suppressed) WriteBytes(address, new ReadOnlySpan<byte>(ctx + HostStubs.MemorySlot, memorySize));
        }

        Mxcsr |= raised;
        if (fullState) CommitFullState(ref ins, traits.Kind, ctx, address, memorySize);
        else for (int k = 0; k < slots; k++) Xmm[guestOfSlot[k]] = Unsafe.Read<Vector128<byte>>(ctx + HostStubs.XmmSlots + 16 * k);

        if (gpr0 != Register.None && IsWrite(traits.Access(gpr0Operand))) WriteRegister(gpr0, *(ulong*)(ctx + HostStubs.R8));
        if (gpr1 != Register.None && IsWrite(traits.Access(gpr1Operand))) WriteRegister(gpr1, *(ulong*)(ctx + HostStubs.R9));
        switch (ins.Mnemonic)
        {
            case Mnemonic.Pcmpestri: case Mnemonic.Pcmpistri: case Mnemonic.Pcmpestri64:
                Gpr.Rcx = *(ulong*)(ctx + HostStubs.Rcx);
                break;
            case Mnemonic.Fnstsw: case Mnemonic.Fstsw:
                if (ins.Op0Kind == OpKind.Register) WriteRegister(Register.AX, *(ulong*)(ctx + HostStubs.Rax));
                break;
        }
        if (ins.RflagsModified != RflagsBits.None) SetStatusFlags(*(ulong*)(ctx + HostStubs.FlagsOut) & Dispatch.Rflags.Status);
        return ExecutionStatus.Continue;
    }

    private void CommitFullState(ref Instruction ins, SimdKind kind, byte* ctx, ulong address, int memorySize)
    {
        ReadFxsaveImage(new ReadOnlySpan<byte>(ctx + HostStubs.GuestImage, 512));
        switch (ins.Mnemonic)
        {
            case Mnemonic.Fldenv: case Mnemonic.Frstor:
            {
                // The pointers come from the loaded image (32-bit protected-mode layout, SDM Vol. 1, Figure 8-10).
                var image = new ReadOnlySpan<byte>(ctx + HostStubs.MemorySlot, memorySize);
                if (IsWideEnvironment(memorySize))
                {
                    FpuInstructionPointer = BinaryPrimitives.ReadUInt32LittleEndian(image[12..]);
                    FpuOpcode = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(image[18..]) & 0x7FF);
                    FpuDataPointer = BinaryPrimitives.ReadUInt32LittleEndian(image[20..]);
                }
                else
                {
                    // 16-bit protected-mode layout (operand-size prefix, SDM Vol. 1, Figure 8-11): 16-bit offsets, no opcode.
                    FpuInstructionPointer = BinaryPrimitives.ReadUInt16LittleEndian(image[6..]);
                    FpuOpcode = 0;
                    FpuDataPointer = BinaryPrimitives.ReadUInt16LittleEndian(image[10..]);
                }
                break;
            }
            case Mnemonic.Fninit: case Mnemonic.Finit: case Mnemonic.Fnsave: case Mnemonic.Fsave:
                FpuOpcode = 0;
                FpuInstructionPointer = 0;
                FpuDataPointer = 0;
                break;
        }
        if (kind == SimdKind.X87)
        {
            FpuInstructionPointer = _currentInstructionIp;
            FpuDataPointer = memorySize != 0 ? address : 0;
            FpuOpcode = X87Opcode();
        }
    }

    /// <summary>
    /// Patches the pointer fields of an FNSTENV/FNSAVE image (written by the host with host addresses) with the guest's.
    /// Called before the image is copied to guest memory.
    /// </summary>
    private void PatchStoredEnvironment(Span<byte> image)
    {
        if (IsWideEnvironment(image.Length))
        {
            // 32-bit protected-mode layout (SDM Vol. 1, Figure 8-9); the selectors are stored as zero (CPUID.07H:EBX[13]).
            BinaryPrimitives.WriteUInt32LittleEndian(image[12..], (uint)FpuInstructionPointer);
            BinaryPrimitives.WriteUInt32LittleEndian(image[16..], (uint)FpuOpcode << 16);
            BinaryPrimitives.WriteUInt32LittleEndian(image[20..], (uint)FpuDataPointer);
            BinaryPrimitives.WriteUInt32LittleEndian(image[24..], 0);
        }
        else
        {
            // 16-bit protected-mode layout (operand-size prefix, SDM Vol. 1, Figure 8-11): the low 16 bits of each offset.
            BinaryPrimitives.WriteUInt16LittleEndian(image[6..], (ushort)FpuInstructionPointer);
            BinaryPrimitives.WriteUInt16LittleEndian(image[8..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(image[10..], (ushort)FpuDataPointer);
            BinaryPrimitives.WriteUInt16LittleEndian(image[12..], 0);
        }
    }

    /// <summary>
    /// Whether an FNSTENV/FLDENV (28 vs 14 bytes) or FNSAVE/FRSTOR (108 vs 94 bytes) image has the 32-bit layout; an
    /// operand-size prefix selects the 16-bit one.
    /// </summary>
    private static bool IsWideEnvironment(int imageSize) => imageSize is 28 or 108;

    /// <summary>FOP: the low three bits of the D8-DF opcode byte and the ModR/M byte (SDM Vol. 1, 8.1.8).</summary>
    private ushort X87Opcode()
    {
        ulong ip = _currentInstructionIp;
        for (int i = 0; i < 15; i++)
        {
            byte b = FetchByteSlow(ip + (ulong)i);
            if (b is >= 0xD8 and <= 0xDF) return (ushort)(((b & 7) << 8) | FetchByteSlow(ip + (ulong)i + 1));
        }
        return 0;
    }

    private static bool IsRead(OpAccess access) => access is OpAccess.Read or OpAccess.ReadWrite or OpAccess.CondRead or OpAccess.ReadCondWrite;

    private static bool IsWrite(OpAccess access) => access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite;

    /// <summary>Whether operand <paramref name="operand"/> is a ModR/M-encoded GPR (renamable), not a fixed one such as FNSTSW's AX.</summary>
    private static bool IsEncodableGpr(Code code, int operand)
    {
        var kind = code.ToOpCode().GetOpKind(operand);
        return kind is not (OpCodeOperandKind.al or OpCodeOperandKind.ax or OpCodeOperandKind.eax or OpCodeOperandKind.rax
            or OpCodeOperandKind.cl or OpCodeOperandKind.dx);
    }

    private static Register HostGpr(Register r64, int width) => width switch
    {
        8 => r64,
        4 => r64 - Register.RAX + Register.EAX,
        2 => r64 - Register.RAX + Register.AX,
        _ => r64 == Register.R8 ? Register.R8L : Register.R9L,
    };
}
