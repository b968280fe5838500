using Dispatch.Vmx;
using Iced.Intel;
using static Dispatch.ControlRegisters;

namespace Dispatch.Execution;

/// <summary>
/// MOV to/from control and debug registers, CLTS/LMSW and the descriptor-table instructions, with the CR0/CR4
/// guest/host masks and read shadows, CR3-target list, CR8 and MOV-DR exiting (Intel SDM Vol. 3C, 26.1.3 and 25.6.6).
/// </summary>
internal sealed partial class Processor
{
    private const ulong Cr0Reserved = 0xFFFF_FFFF_0000_0000 | 0x1FFA_FFC0;
    private const ulong Cr4Supported = Cr4VME | Cr4PVI | Cr4TSD | Cr4DE | Cr4PSE | Cr4PAE | Cr4MCE | Cr4PGE | Cr4PCE
        | Cr4OSFXSR | Cr4OSXMMEXCPT | Cr4UMIP | Cr4VMXE | Cr4FSGSBASE | Cr4PCIDE | Cr4OSXSAVE | Cr4SMEP | Cr4SMAP;

    /// <summary>CR0 as a MOV from CR0 sees it: host-owned bits come from the read shadow.</summary>
    internal ulong GuestVisibleCr0() => (Cr0 & ~Controls.Cr0GuestHostMask) | (Controls.Cr0ReadShadow & Controls.Cr0GuestHostMask);

    internal ulong GuestVisibleCr4() => (Cr4 & ~Controls.Cr4GuestHostMask) | (Controls.Cr4ReadShadow & Controls.Cr4GuestHostMask);

    private ExecutionStatus MoveToSpecialRegister(ref Instruction ins)
    {
        Register target = ins.Op0Register;
        Register source = ins.Op1Register;
        int gpr = RegisterNumber(source);
        ulong value = ReadRegister(source);
        if (target.IsDR()) return MoveToDebugRegister(target - Register.DR0, gpr, value);
        if (!target.IsCR()) { RaiseException(ExceptionVector.InvalidOpcode); return ExecutionStatus.Continue; }
        RequireCpl0();
        int cr = target - Register.CR0;
        ulong q = CrAccessQualification.Create(cr, CrAccessType.MovToCr, gpr).Raw;
        switch (cr)
        {
            case 0:
                if (((value ^ Controls.Cr0ReadShadow) & Controls.Cr0GuestHostMask) != 0) return InstructionExit(ExitReason.CrAccess, q);
                if ((value & Cr0Reserved) != 0 || (value & Cr0PG) == 0 || (value & Cr0PE) == 0
                    || ((value & Cr0NW) != 0 && (value & Cr0CD) == 0))
                    RaiseException(ExceptionVector.GeneralProtection, 0);
                value = (value & ~Controls.Cr0GuestHostMask) | (Cr0 & Controls.Cr0GuestHostMask);
                if (((value ^ Cr0) & (Cr0WP | Cr0PG)) != 0) FlushTlb();
                Cr0 = value | Cr0ET;
                return ExecutionStatus.FellThrough;
            case 2:
                Cr2 = value;
                return ExecutionStatus.Continue;
            case 3:
                if (Controls.Has(PrimaryProcessorControls.Cr3LoadExiting) && !IsCr3Target(value)) return InstructionExit(ExitReason.CrAccess, q);
                if ((value & ~((1UL << PhysicalAddressBits) - 1) & ~(1UL << 63)) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                Cr3 = value & ~(1UL << 63);
                FlushTlb();
                return ExecutionStatus.FellThrough;
            case 4:
                if (((value ^ Controls.Cr4ReadShadow) & Controls.Cr4GuestHostMask) != 0) return InstructionExit(ExitReason.CrAccess, q);
                if ((value & ~WritableCr4Bits) != 0 || (value & Cr4PAE) == 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                value = (value & ~Controls.Cr4GuestHostMask) | (Cr4 & Controls.Cr4GuestHostMask);
                FlushTlb();
                Cr4 = value;
                return ExecutionStatus.FellThrough;
            case 8:
                if (Controls.Has(PrimaryProcessorControls.Cr8LoadExiting)) return InstructionExit(ExitReason.CrAccess, q);
                if ((value & ~0xFUL) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
                if (Controls.Has(PrimaryProcessorControls.UseTprShadow)) return WriteVirtualTpr(value);
                Cr8 = value;
                return ExecutionStatus.FellThrough;
        }
        RaiseException(ExceptionVector.InvalidOpcode);
        return ExecutionStatus.Continue;
    }

    private bool IsCr3Target(ulong value)
    {
        for (int i = 0; i < Math.Min(Controls.Cr3TargetCount, 4); i++)
            if (Controls.Cr3Targets[i] == value) return true;
        return false;
    }

    private ExecutionStatus MoveFromSpecialRegister(ref Instruction ins)
    {
        Register target = ins.Op0Register;
        Register source = ins.Op1Register;
        int gpr = RegisterNumber(target);
        if (source.IsDR()) return MoveFromDebugRegister(source - Register.DR0, gpr, target);
        if (!source.IsCR()) { RaiseException(ExceptionVector.InvalidOpcode); return ExecutionStatus.Continue; }
        RequireCpl0();
        int cr = source - Register.CR0;
        ulong q = CrAccessQualification.Create(cr, CrAccessType.MovFromCr, gpr).Raw;
        ulong value;
        switch (cr)
        {
            case 0: value = GuestVisibleCr0(); break;
            case 2: value = Cr2; break;
            case 3:
                if (Controls.Has(PrimaryProcessorControls.Cr3StoreExiting)) return InstructionExit(ExitReason.CrAccess, q);
                value = Cr3;
                break;
            case 4: value = GuestVisibleCr4(); break;
            case 8:
                if (Controls.Has(PrimaryProcessorControls.Cr8StoreExiting)) return InstructionExit(ExitReason.CrAccess, q);
                // With a TPR shadow, CR8 reads VTPR bits 7:4 (Intel SDM Vol. 3C, 30.3).
                value = Controls.Has(PrimaryProcessorControls.UseTprShadow) ? (ReadVirtualTpr() >> 4) & 0xF : Cr8;
                break;
            default:
                RaiseException(ExceptionVector.InvalidOpcode);
                return ExecutionStatus.Continue;
        }
        WriteRegister(target, value);
        return ExecutionStatus.Continue;
    }

    private ExecutionStatus MoveToDebugRegister(int dr, int gpr, ulong value)
    {
        if ((dr is 4 or 5) && (Cr4 & Cr4DE) != 0) RaiseException(ExceptionVector.InvalidOpcode);
        RequireCpl0();
        if (Controls.Has(PrimaryProcessorControls.MovDrExiting))
            return InstructionExit(ExitReason.MovDr, MovDrQualification.Create(dr, fromDr: false, gpr).Raw);
        int index = dr is 4 or 5 ? dr + 2 : dr;
        if (index >= 6 && (value >> 32) != 0) RaiseException(ExceptionVector.GeneralProtection, 0);
        Dr[index] = index switch { 6 => value | 0xFFFF_0FF0, 7 => (value | 0x400) & ~0x1000UL, _ => value };
        return ExecutionStatus.Continue;
    }

    private ExecutionStatus MoveFromDebugRegister(int dr, int gpr, Register target)
    {
        if ((dr is 4 or 5) && (Cr4 & Cr4DE) != 0) RaiseException(ExceptionVector.InvalidOpcode);
        RequireCpl0();
        if (Controls.Has(PrimaryProcessorControls.MovDrExiting))
            return InstructionExit(ExitReason.MovDr, MovDrQualification.Create(dr, fromDr: true, gpr).Raw);
        WriteRegister(target, Dr[dr is 4 or 5 ? dr + 2 : dr]);
        return ExecutionStatus.Continue;
    }

    /// <summary>LMSW (26.1.3): exits when it would set a host-owned PE the shadow has clear, or change host-owned MP/EM/TS.</summary>
    private ExecutionStatus LoadMachineStatusWord(ref Instruction ins)
    {
        RequireCpl0();
        bool memory = ins.Op0Kind == OpKind.Memory;
        ulong source = ReadOperand(in ins, 0, 2) & 0xFFFF;
        ulong mask = Controls.Cr0GuestHostMask, shadow = Controls.Cr0ReadShadow;
        bool exits = ((mask & Cr0PE) != 0 && (shadow & Cr0PE) == 0 && (source & Cr0PE) != 0)
            || ((mask & 0xE & (source ^ shadow)) != 0);
        if (exits)
        {
            var status = InstructionExit(ExitReason.CrAccess, CrAccessQualification.Create(0, CrAccessType.Lmsw, 0, memory, (ushort)source).Raw);
            if (memory) Exit.GuestLinearAddress = EffectiveAddress(in ins);
            return status;
        }
        // LMSW can set PE but never clear it, and changes only bits 3:0; host-owned bits stay as they are.
        ulong changeable = 0xE & ~mask;
        Cr0 = (Cr0 & ~changeable) | (source & changeable) | (source & Cr0PE & ~mask);
        return ExecutionStatus.Continue;
    }

    /// <summary>LGDT/LIDT/SGDT/SIDT/LLDT/LTR/SLDT/STR and descriptor-table exiting (reasons 46 and 47, 28.2.5 Tables 28-10/28-11).</summary>
    private ExecutionStatus DescriptorTableInstruction(ref Instruction ins)
    {
        Mnemonic m = ins.Mnemonic;
        bool loads = m is Mnemonic.Lgdt or Mnemonic.Lidt or Mnemonic.Lldt or Mnemonic.Ltr;
        if (loads) RequireCpl0();
        else if ((Cr4 & Cr4UMIP) != 0 && Cpl > 0) RaiseException(ExceptionVector.GeneralProtection, 0);
        if (Controls.Has(SecondaryProcessorControls.DescriptorTableExiting))
        {
            bool gdtIdt = m is Mnemonic.Lgdt or Mnemonic.Lidt or Mnemonic.Sgdt or Mnemonic.Sidt;
            uint identity = m switch
            {
                Mnemonic.Sgdt or Mnemonic.Sldt => 0u,
                Mnemonic.Sidt or Mnemonic.Str => 1u,
                Mnemonic.Lgdt or Mnemonic.Lldt => 2u,
                _ => 3u,
            };
            ulong displacement = ins.Op0Kind == OpKind.Memory ? ins.MemoryDisplacement64 : 0;
            var status = InstructionExit(gdtIdt ? ExitReason.GdtrIdtrAccess : ExitReason.LdtrTrAccess, displacement);
            // Operand size in bit 11 for the GDTR/IDTR forms (1 = 32-bit; 64-bit mode reports 32-bit with 64-bit address size).
            Exit.InstructionInformation = OperandInformation(in ins, 0, Register.None) | (identity << 28) | (gdtIdt ? 1u << 11 : 0);
            return status;
        }
        switch (m)
        {
            case Mnemonic.Lgdt:
            case Mnemonic.Lidt:
            {
                ulong a = EffectiveAddress(in ins);
                uint limit = (uint)ReadMemory(a, 2);
                ulong b = ReadMemory(a + 2, 8);
                if (!IsCanonical(b)) RaiseException(ExceptionVector.GeneralProtection, 0);
                if (m == Mnemonic.Lgdt) { GdtrBase = b; GdtrLimit = limit; } else { IdtrBase = b; IdtrLimit = limit; }
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Sgdt:
            case Mnemonic.Sidt:
            {
                ulong a = EffectiveAddress(in ins);
                WriteMemory(a, 2, m == Mnemonic.Sgdt ? GdtrLimit : IdtrLimit);
                WriteMemory(a + 2, 8, m == Mnemonic.Sgdt ? GdtrBase : IdtrBase);
                return ExecutionStatus.Continue;
            }
            case Mnemonic.Sldt: WriteOperand(in ins, 0, 2, Ldtr.Selector); return ExecutionStatus.Continue;
            case Mnemonic.Str: WriteOperand(in ins, 0, 2, Tr.Selector); return ExecutionStatus.Continue;
            case Mnemonic.Lldt:
            {
                ushort selector = (ushort)ReadOperand(in ins, 0, 2);
                if ((selector & 0xFFFC) != 0) LoadSystemSegment(selector, ldt: true);
                else Ldtr = SegmentRegister.Unusable;
                return ExecutionStatus.Continue;
            }
            default:
                LoadSystemSegment((ushort)ReadOperand(in ins, 0, 2), ldt: false);
                return ExecutionStatus.Continue;
        }
    }

    /// <summary>Loads LDTR or TR from a 16-byte system descriptor in the GDT; LTR marks the TSS busy.</summary>
    private void LoadSystemSegment(ushort selector, bool ldt)
    {
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0 || (selector & 4) != 0) RaiseException(ExceptionVector.GeneralProtection, error);
        ulong offset = (ulong)(selector & 0xFFF8);
        if (offset + 15 > GdtrLimit) RaiseException(ExceptionVector.GeneralProtection, error);
        ulong low = ReadSupervisor(GdtrBase + offset), high = ReadSupervisor(GdtrBase + offset + 8);
        uint type = (uint)((low >> 40) & 0xF);
        bool system = ((low >> 44) & 1) == 0;
        if (!system || (ldt ? type != 2 : type != 9)) RaiseException(ExceptionVector.GeneralProtection, error);
        if (((low >> 47) & 1) == 0) RaiseException(ExceptionVector.SegmentNotPresent, error);
        var segment = new SegmentRegister
        {
            Selector = selector,
            Base = ((low >> 16) & 0xFF_FFFF) | (((low >> 56) & 0xFF) << 24) | (high << 32),
            Limit = (uint)((low & 0xFFFF) | ((low >> 32) & 0xF_0000)),
            AccessRights = (uint)((low >> 40) & 0xFF) | (uint)(((low >> 52) & 0xF) << 12),
        };
        if ((segment.AccessRights & 0x8000) != 0) segment.Limit = (segment.Limit << 12) | 0xFFF;
        if (ldt) { Ldtr = segment; return; }
        segment.AccessRights |= 2; // busy
        WriteSupervisor(GdtrBase + offset, low | (2UL << 40));
        Tr = segment;
    }
}
