using System.Diagnostics;
using Dispatch.Vmx;
using Iced.Intel;
using static Dispatch.ControlRegisters;

namespace Dispatch.Execution;

/// <summary>
/// System instructions and the VM exits they cause in VMX non-root operation (Intel SDM Vol. 3C, 26.1: instructions that
/// exit unconditionally; 26.1.3: exits that depend on the VM-execution controls). Privilege checks come first: faults
/// that the SDM ranks above VM exits (26.1.1) are raised before the exit is considered.
/// </summary>
internal sealed partial class Processor
{
    private ExecutionStatus SystemInstruction(ref Instruction ins, int size)
    {
        switch (ins.Mnemonic)
        {
            case Mnemonic.Cpuid:
                return InstructionExit(ExitReason.Cpuid);
            case Mnemonic.Hlt:
                RequireCpl0();
                if (Controls.Has(PrimaryProcessorControls.HltExiting)) return InstructionExit(ExitReason.Hlt);
                Halted = true;
                return ExecutionStatus.Halted;
            case Mnemonic.In: case Mnemonic.Out: case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd:
            case Mnemonic.Outsb: case Mnemonic.Outsw: case Mnemonic.Outsd:
                return InputOutput(ref ins);
            case Mnemonic.Rdmsr:
                RequireCpl0();
                if (MsrExits((uint)Gpr.Rcx, write: false)) return InstructionExit(ExitReason.Rdmsr);
                {
                    ulong v = ReadMsr((uint)Gpr.Rcx);
                    Gpr.Rax = (uint)v;
                    Gpr.Rdx = v >> 32;
                }
                return ExecutionStatus.Continue;
            case Mnemonic.Wrmsr:
                RequireCpl0();
                if (MsrExits((uint)Gpr.Rcx, write: true)) return InstructionExit(ExitReason.Wrmsr);
                WriteMsr((uint)Gpr.Rcx, ((Gpr.Rdx & 0xFFFF_FFFF) << 32) | (Gpr.Rax & 0xFFFF_FFFF));
                return ExecutionStatus.FellThrough;
            case Mnemonic.Rdtsc:
                if ((Cr4 & Cr4TSD) != 0 && Cpl > 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                if (Controls.Has(PrimaryProcessorControls.RdtscExiting)) return InstructionExit(ExitReason.Rdtsc);
                {
                    ulong tsc = GuestTsc();
                    Gpr.Rax = (uint)tsc;
                    Gpr.Rdx = tsc >> 32;
                }
                return ExecutionStatus.Continue;
            case Mnemonic.Rdtscp:
                if (!Controls.Has(SecondaryProcessorControls.EnableRdtscp)) break;
                if ((Cr4 & Cr4TSD) != 0 && Cpl > 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                if (Controls.Has(PrimaryProcessorControls.RdtscExiting)) return InstructionExit(ExitReason.Rdtscp);
                {
                    ulong tsc = GuestTsc();
                    Gpr.Rax = (uint)tsc;
                    Gpr.Rdx = tsc >> 32;
                    Gpr.Rcx = (uint)TscAux;
                }
                return ExecutionStatus.Continue;
            case Mnemonic.Rdpmc:
                if (Controls.Has(PrimaryProcessorControls.RdpmcExiting)) return InstructionExit(ExitReason.Rdpmc);
                RaiseException(ExceptionVector.GeneralProtection, 0);
                break;
            case Mnemonic.Vmcall: return InstructionExit(ExitReason.Vmcall);
            case Mnemonic.Vmlaunch: return InstructionExit(ExitReason.Vmlaunch);
            case Mnemonic.Vmresume: return InstructionExit(ExitReason.Vmresume);
            case Mnemonic.Vmxoff: return InstructionExit(ExitReason.Vmxoff);
            case Mnemonic.Vmfunc: return InstructionExit(ExitReason.Vmfunc);
            case Mnemonic.Vmclear: return VmxMemoryInstructionExit(ref ins, ExitReason.Vmclear);
            case Mnemonic.Vmptrld: return VmxMemoryInstructionExit(ref ins, ExitReason.Vmptrld);
            case Mnemonic.Vmptrst: return VmxMemoryInstructionExit(ref ins, ExitReason.Vmptrst);
            case Mnemonic.Vmxon: return VmxMemoryInstructionExit(ref ins, ExitReason.Vmxon);
            case Mnemonic.Vmread: return VmxMemoryInstructionExit(ref ins, ExitReason.Vmread);
            case Mnemonic.Vmwrite: return VmxMemoryInstructionExit(ref ins, ExitReason.Vmwrite);
            case Mnemonic.Invept: return VmxMemoryInstructionExit(ref ins, ExitReason.Invept);
            case Mnemonic.Invvpid: return VmxMemoryInstructionExit(ref ins, ExitReason.Invvpid);
            case Mnemonic.Invd:
                RequireCpl0();
                return InstructionExit(ExitReason.Invd);
            case Mnemonic.Wbinvd:
                RequireCpl0();
                return Controls.Has(SecondaryProcessorControls.WbinvdExiting) ? InstructionExit(ExitReason.Wbinvd) : ExecutionStatus.Continue;
            case Mnemonic.Xsetbv:
                // #UD and the CPL check rank above the exit (26.1.1); the value checks are the VMM's (VCpu.TrySetXcr).
                if ((Cr4 & Cr4OSXSAVE) == 0) break;
                RequireCpl0();
                return InstructionExit(ExitReason.Xsetbv);
            case Mnemonic.Xgetbv:
                return ReadExtendedControlRegister(ref ins);
            case Mnemonic.Pause:
                if (Controls.Has(PrimaryProcessorControls.PauseExiting)) return InstructionExit(ExitReason.Pause);
                return PauseLoopDetected() ? InstructionExit(ExitReason.Pause) : ExecutionStatus.Continue;
            case Mnemonic.Monitor:
                if (Controls.Has(PrimaryProcessorControls.MonitorExiting)) return InstructionExit(ExitReason.Monitor);
                break;
            case Mnemonic.Mwait:
                if (Controls.Has(PrimaryProcessorControls.MwaitExiting)) return InstructionExit(ExitReason.Mwait);
                break;
            case Mnemonic.Rdrand: case Mnemonic.Rdseed:
            {
                var control = ins.Mnemonic == Mnemonic.Rdrand ? SecondaryProcessorControls.RdrandExiting : SecondaryProcessorControls.RdseedExiting;
                if (Controls.Has(control))
                {
                    var status = InstructionExit(ins.Mnemonic == Mnemonic.Rdrand ? ExitReason.Rdrand : ExitReason.Rdseed);
                    Exit.InstructionInformation = ((uint)RegisterNumber(ins.Op0Register) << 3) | (uint)(size switch { 2 => 0, 4 => 1, _ => 2 }) << 11;
                    return status;
                }
                WriteRegister(ins.Op0Register, (ulong)Random.Shared.NextInt64() & SizeMask(size));
                SetStatusFlags(Dispatch.Rflags.CF);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Invlpg:
            {
                RequireCpl0();
                ulong linear = LinearAddress(in ins);
                if (Controls.Has(PrimaryProcessorControls.InvlpgExiting)) return InstructionExit(ExitReason.Invlpg, linear);
                FlushTlbPage(linear);
                return ExecutionStatus.FellThrough;
            }
            case Mnemonic.Invpcid:
                if (!Controls.Has(SecondaryProcessorControls.EnableInvpcid)) break;
                RequireCpl0();
                if (Controls.Has(PrimaryProcessorControls.InvlpgExiting)) return VmxMemoryInstructionExit(ref ins, ExitReason.Invpcid);
                FlushTlb();
                return ExecutionStatus.FellThrough;
            case Mnemonic.Getsec:
                // GETSEC's operation (Intel SDM Vol. 2D): #UD when CR4.SMXE = 0, before anything else; otherwise, in VMX
                // non-root operation, a VM exit, whatever the leaf and CPL (Vol. 3C, 26.1.2).
                if ((Cr4 & Cr4SMXE) == 0) break;
                return InstructionExit(ExitReason.Getsec);
            case Mnemonic.Lgdt: case Mnemonic.Lidt: case Mnemonic.Sgdt: case Mnemonic.Sidt:
            case Mnemonic.Lldt: case Mnemonic.Ltr: case Mnemonic.Sldt: case Mnemonic.Str:
                return DescriptorTableInstruction(ref ins);
            case Mnemonic.Clts:
                RequireCpl0();
                if ((Controls.Cr0GuestHostMask & Cr0TS) != 0 && (Controls.Cr0ReadShadow & Cr0TS) != 0)
                    return InstructionExit(ExitReason.CrAccess, CrAccessQualification.Create(0, CrAccessType.Clts).Raw);
                Cr0 &= ~Cr0TS;
                return ExecutionStatus.Continue;
            case Mnemonic.Lmsw: return LoadMachineStatusWord(ref ins);
            case Mnemonic.Smsw:
                WriteOperand(in ins, 0, size, GuestVisibleCr0() & SizeMask(size));
                return ExecutionStatus.Continue;
            case Mnemonic.Swapgs:
                RequireCpl0();
                (Gs.Base, KernelGsBase) = (KernelGsBase, Gs.Base);
                return ExecutionStatus.Continue;
            case Mnemonic.Syscall: return SystemCall();
            case Mnemonic.Sysretq: return SystemReturn();
            case Mnemonic.Cli:
                RequireIopl();
                _flags &= ~Dispatch.Rflags.IF;
                return ExecutionStatus.Continue;
            case Mnemonic.Sti:
                RequireIopl();
                if (!GetIF()) Interruptibility |= 1;
                _flags |= Dispatch.Rflags.IF;
                return ExecutionStatus.FellThrough;
            case Mnemonic.Rdfsbase: case Mnemonic.Rdgsbase: case Mnemonic.Wrfsbase: case Mnemonic.Wrgsbase:
                if ((Cr4 & Cr4FSGSBASE) == 0) break;
                if (ins.Mnemonic == Mnemonic.Rdfsbase) WriteRegister(ins.Op0Register, Fs.Base & SizeMask(size));
                else if (ins.Mnemonic == Mnemonic.Rdgsbase) WriteRegister(ins.Op0Register, Gs.Base & SizeMask(size));
                else
                {
                    ulong b = ReadRegister(ins.Op0Register);
                    if (!IsCanonical(b)) RaiseException(ExceptionVector.GeneralProtection, 0);
                    if (ins.Mnemonic == Mnemonic.Wrfsbase) Fs.Base = b; else Gs.Base = b;
                }
                return ExecutionStatus.Continue;
            default:
                return FloatingPointInstruction(ref ins, size);
        }
        RaiseException(ExceptionVector.InvalidOpcode);
        return ExecutionStatus.Continue;
    }

    /// <summary>Set when HLT ran without exiting: the processor waits for an event.</summary>
    internal bool Halted;

    private void RequireCpl0()
    {
        if (Cpl != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
    }

    private void RequireIopl()
    {
        if (Cpl > (int)((_flags >> 12) & 3)) RaiseException(ExceptionVector.GeneralProtection, 0);
    }

    /// <summary>TSC as the guest reads it: a 1 GHz counter from the host's monotonic clock, plus TSC offsetting (25.6.5).</summary>
    internal ulong GuestTsc()
    {
        ulong ns = HostTsc();
        ulong offset = Controls.Has(PrimaryProcessorControls.UseTscOffsetting) ? Controls.TscOffset : 0;
        return ns + offset + (ulong)TscOffset;
    }

    /// <summary>The TSC before any offsetting: nanoseconds of the host's monotonic clock.</summary>
    private static ulong HostTsc() => (ulong)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));

    private static int RegisterNumber(Register r) => r == Register.None ? 0 : r.GetFullRegister() - Register.RAX;

    /// <summary>
    /// VM-exit instruction information for instructions with a memory or register operand (Intel SDM Vol. 3C, 28.2.5,
    /// Tables 28-9 to 28-14): scaling 1:0, reg1 6:3, address size 9:7, register form 10, segment 17:15, index 21:18,
    /// index invalid 22, base 26:23, base invalid 27, reg2 31:28.
    /// </summary>
    private uint OperandInformation(in Instruction ins, int memoryOperand, Register reg2)
    {
        uint info = 0;
        if (ins.GetOpKind(memoryOperand) == OpKind.Memory)
        {
            uint scale = ins.MemoryIndexScale switch { 2 => 1u, 4 => 2u, 8 => 3u, _ => 0u };
            var b = ins.MemoryBase;
            var x = ins.MemoryIndex;
            bool addr32 = (b != Register.None && b.GetSize() == 4) || (x != Register.None && x.GetSize() == 4);
            info |= scale | ((addr32 ? 1u : 2u) << 7);
            info |= (uint)SegmentNumber(ins.MemorySegment) << 15;
            if (x == Register.None) info |= 1u << 22; else info |= (uint)RegisterNumber(x) << 18;
            if (b == Register.None || b == Register.RIP || b == Register.EIP) info |= 1u << 27; else info |= (uint)RegisterNumber(b) << 23;
        }
        else
        {
            info |= 1u << 10 | (2u << 7) | ((uint)RegisterNumber(ins.GetOpRegister(memoryOperand)) << 3);
        }
        if (reg2 != Register.None) info |= (uint)RegisterNumber(reg2) << 28;
        return info;
    }

    private static int SegmentNumber(Register segment) => segment switch
    {
        Register.ES => 0,
        Register.CS => 1,
        Register.SS => 2,
        Register.FS => 4,
        Register.GS => 5,
        _ => 3,
    };

    /// <summary>
    /// VMCLEAR, VMPTRLD, VMPTRST, VMXON, VMREAD, VMWRITE, INVEPT, INVVPID, INVPCID: exit with the displacement as the
    /// qualification and the operand described in the instruction information (28.2.1, Table 28-1; 28.2.5).
    /// </summary>
    private ExecutionStatus VmxMemoryInstructionExit(ref Instruction ins, ExitReason reason)
    {
        int memoryOperand = ins.Mnemonic switch
        {
            Mnemonic.Vmread => 0,
            Mnemonic.Vmwrite or Mnemonic.Invept or Mnemonic.Invvpid or Mnemonic.Invpcid => 1,
            _ => 0,
        };
        Register reg2 = ins.Mnemonic switch
        {
            Mnemonic.Vmread => ins.Op1Register,
            Mnemonic.Vmwrite or Mnemonic.Invept or Mnemonic.Invvpid or Mnemonic.Invpcid => ins.Op0Register,
            _ => Register.None,
        };
        bool memory = ins.GetOpKind(memoryOperand) == OpKind.Memory;
        ulong displacement = memory ? (ins.IsIPRelativeMemoryOperand ? ins.IPRelativeMemoryAddress - ins.NextIP : ins.MemoryDisplacement64) : 0;
        var status = InstructionExit(reason, displacement);
        Exit.InstructionInformation = OperandInformation(in ins, memoryOperand, reg2);
        return status;
    }

    private ExecutionStatus SoftwareException(byte vector, InterruptionType type)
    {
        // INT n, INT3 and INTO deliver with RIP after the instruction; the exception bitmap applies to INT3 (vector 3)
        // and INTO only (26.2); INT n never exits by the bitmap.
        var info = InterruptionInfo.Create(vector, type);
        if (type != InterruptionType.SoftwareInterrupt && ExceptionExits(vector, 0))
        {
            var status = InstructionExit(ExitReason.ExceptionOrNmi);
            Exit.InterruptionInformation = info.Raw;
            return status;
        }
        if (!DeliverEvent(info, 0, Rip)) return ExecutionStatus.Exit;
        return ExecutionStatus.Branched;
    }

    /// <summary>IRETQ in 64-bit mode to 64-bit code (Intel SDM Vol. 2A "IRET/IRETD/IRETQ").</summary>
    private ExecutionStatus InterruptReturn()
    {
        ulong rsp = Gpr.Rsp;
        ulong rip = ReadMemory(rsp, 8), cs = ReadMemory(rsp + 8, 8), rflags = ReadMemory(rsp + 16, 8);
        ulong newRsp = ReadMemory(rsp + 24, 8), ss = ReadMemory(rsp + 32, 8);
        int newCpl = (int)(cs & 3);
        if (newCpl < Cpl) RaiseException(ExceptionVector.GeneralProtection, (uint)(cs & 0xFFFC));
        var newCs = ReadCodeSegment((ushort)cs, (int)(cs & 0xFFFC));
        if (!IsCanonical(rip)) RaiseException(ExceptionVector.GeneralProtection, 0);
        ulong keep = Dispatch.Rflags.VM | Dispatch.Rflags.VIF | Dispatch.Rflags.VIP;
        if (Cpl > 0) keep |= Dispatch.Rflags.IOPL;
        ulong current = MaterializeFlags();
        if (Cpl > (int)((current >> 12) & 3)) keep |= Dispatch.Rflags.IF;
        Cs = newCs;
        Ss = (ss & 0xFFFC) == 0 ? NullStackSegment(newCpl) : FlatStackSegment((ushort)ss, newCpl);
        Gpr.Rsp = newRsp;
        Rip = rip;
        SetFlags((rflags & ~keep) | (current & keep));
        // NMI blocking ends with IRET (Vol. 3A, 6.7.1).
        Interruptibility &= ~8u;
        return ExecutionStatus.Branched;
    }

    private static SegmentRegister NullStackSegment(int cpl)
    {
        var s = SegmentRegister.Unusable;
        s.Selector = (ushort)cpl;
        s.AccessRights |= 0x3 | 0x10 | ((uint)cpl << 5) | 0x80 | 0x4000 | 0x8000;
        return s;
    }

    private static SegmentRegister FlatStackSegment(ushort selector, int cpl)
    {
        var s = SegmentRegister.FlatData(selector, cpl);
        s.AccessRights |= 1;
        return s;
    }

    /// <summary>SYSCALL (Intel SDM Vol. 2B): #UD unless EFER.SCE; loads CS/SS from STAR, RIP from LSTAR, masks RFLAGS.</summary>
    private ExecutionStatus SystemCall()
    {
        if ((Efer & EferSCE) == 0) RaiseException(ExceptionVector.InvalidOpcode);
        ulong flags = MaterializeFlags();
        Gpr.Rcx = Rip;
        Gpr.R11 = flags & ~Dispatch.Rflags.RF;
        ushort selector = (ushort)((Star >> 32) & 0xFFFC);
        Cs = SegmentRegister.FlatCode64(selector, 0);
        Cs.AccessRights |= 1;
        Ss = FlatStackSegment((ushort)(selector + 8), 0);
        SetFlags(flags & ~Sfmask & ~Dispatch.Rflags.RF);
        Rip = Lstar;
        return ExecutionStatus.Branched;
    }

    /// <summary>SYSRET to 64-bit code (REX.W form): CS = STAR[63:48] + 16, SS = STAR[63:48] + 8, both RPL 3.</summary>
    private ExecutionStatus SystemReturn()
    {
        if ((Efer & EferSCE) == 0) RaiseException(ExceptionVector.InvalidOpcode);
        RequireCpl0();
        if (!IsCanonical(Gpr.Rcx)) RaiseException(ExceptionVector.GeneralProtection, 0);
        ushort selector = (ushort)(Star >> 48);
        Cs = SegmentRegister.FlatCode64((ushort)((selector + 16) | 3), 3);
        Cs.AccessRights |= 1;
        Ss = FlatStackSegment((ushort)((selector + 8) | 3), 3);
        Rip = Gpr.Rcx;
        SetFlags((Gpr.R11 & ~(Dispatch.Rflags.RF | Dispatch.Rflags.VM)) | Dispatch.Rflags.Reserved1);
        return ExecutionStatus.Branched;
    }
}
