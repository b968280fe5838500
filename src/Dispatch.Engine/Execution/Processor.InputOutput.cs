using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// IN, OUT, INS and OUTS. An access exits under unconditional I/O exiting or, with "use I/O bitmaps", when any byte of
/// it has its bit set in bitmap A (ports 0-0x7FFF) or B (0x8000-0xFFFF); an access that wraps past 0xFFFF always exits
/// (Intel SDM Vol. 3C, 26.1.3 and 25.6.4). Without an exit there is no device behind any port: IN reads all ones.
/// </summary>
internal sealed partial class Processor
{
    private ExecutionStatus InputOutput(ref Instruction ins)
    {
        Mnemonic m = ins.Mnemonic;
        bool isIn = m is Mnemonic.In or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd;
        bool isString = m is not (Mnemonic.In or Mnemonic.Out);
        int size = m switch
        {
            Mnemonic.Insb or Mnemonic.Outsb => 1,
            Mnemonic.Insw or Mnemonic.Outsw => 2,
            Mnemonic.Insd or Mnemonic.Outsd => 4,
            Mnemonic.In => ins.Op0Register.GetSize(),
            _ => ins.Op1Register.GetSize(),
        };
        bool immediate = false;
        ushort port;
        if (m == Mnemonic.In) { immediate = ins.Op1Kind == OpKind.Immediate8; port = immediate ? ins.Immediate8 : (ushort)Gpr.Rdx; }
        else if (m == Mnemonic.Out) { immediate = ins.Op0Kind == OpKind.Immediate8; port = immediate ? ins.Immediate8 : (ushort)Gpr.Rdx; }
        else port = (ushort)Gpr.Rdx;

        // I/O privilege is checked before the exit (26.1.1); the TSS I/O permission bitmap is not modelled: CPL > IOPL faults.
        RequireIopl();
        bool rep = isString && (ins.HasRepPrefix || ins.HasRepePrefix);
        if (IoExits(port, size))
        {
            var q = IoQualification.Create(port, size, isIn, isString, rep, immediate);
            var status = InstructionExit(ExitReason.IoInstruction, q.Raw);
            if (isString)
            {
                // The linear address of the first element (28.2.1) and the address size and segment (Table 28-9).
                ulong segmentBase = !isIn && ins.SegmentPrefix == Register.FS ? Fs.Base : !isIn && ins.SegmentPrefix == Register.GS ? Gs.Base : 0;
                Exit.GuestLinearAddress = segmentBase + (isIn ? Gpr.Rdi : Gpr.Rsi);
                uint segment = isIn ? 0u : (uint)SegmentNumber(ins.SegmentPrefix == Register.None ? Register.DS : ins.SegmentPrefix);
                Exit.InstructionInformation = (2u << 7) | (segment << 15);
            }
            return status;
        }
        if (!isString)
        {
            if (isIn) WriteRegister(ins.Op0Register, SizeMask(size));
            return ExecutionStatus.Continue;
        }
        long step = GetDF() ? -size : size;
        while (!rep || Gpr.Rcx != 0)
        {
            if (isIn) { WriteMemory(Gpr.Rdi, size, SizeMask(size)); Gpr.Rdi += (ulong)step; }
            else { ReadMemory(Gpr.Rsi, size); Gpr.Rsi += (ulong)step; }
            if (!rep) break;
            Gpr.Rcx--;
        }
        return ExecutionStatus.Continue;
    }

    private bool IoExits(ushort port, int size)
    {
        if (!Controls.Has(PrimaryProcessorControls.UseIoBitmaps)) return Controls.Has(PrimaryProcessorControls.UnconditionalIoExiting);
        if (port + size - 1 > 0xFFFF) return true;
        for (int p = port; p < port + size; p++)
        {
            ulong bitmap = p < 0x8000 ? Controls.IoBitmapA : Controls.IoBitmapB;
            int bit = p & 0x7FFF;
            if ((ReadPhysicalByte(bitmap + (ulong)(bit >> 3)) & (1 << (bit & 7))) != 0) return true;
        }
        return false;
    }

    /// <summary>A byte of a VMX data structure (bitmaps) in guest-physical memory; outside RAM it reads as all ones.</summary>
    internal byte ReadPhysicalByte(ulong physical)
    {
        unsafe
        {
            byte* page = Memory.TryGetPage(physical & ~0xFFFUL);
            return page == null ? (byte)0xFF : page[physical & 0xFFF];
        }
    }
}
