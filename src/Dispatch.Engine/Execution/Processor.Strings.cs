using Iced.Intel;

namespace Dispatch.Execution;

/// <summary>
/// MOVS, STOS, LODS, CMPS and SCAS with REP/REPE/REPNE (Intel SDM Vol. 2, "REP/REPE/REPZ/REPNE/REPNZ"). Registers are
/// updated after each element, so a fault in the middle leaves a restartable state, as on hardware.
/// </summary>
internal sealed partial class Processor
{
    private const int RepIterationsPerStep = 1 << 16;

    private ExecutionStatus StringInstruction(ref Instruction ins)
    {
        Mnemonic m = ins.Mnemonic;
        int size = m switch
        {
            Mnemonic.Movsb or Mnemonic.Stosb or Mnemonic.Lodsb or Mnemonic.Cmpsb or Mnemonic.Scasb => 1,
            Mnemonic.Movsw or Mnemonic.Stosw or Mnemonic.Lodsw or Mnemonic.Cmpsw or Mnemonic.Scasw => 2,
            Mnemonic.Movsd or Mnemonic.Stosd or Mnemonic.Lodsd or Mnemonic.Cmpsd or Mnemonic.Scasd => 4,
            _ => 8,
        };
        bool rep = ins.HasRepPrefix || ins.HasRepePrefix || ins.HasRepnePrefix;
        bool compares = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq
            or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq;
        long step = GetDF() ? -size : size;
        ulong sourceBase = ins.SegmentPrefix == Register.FS ? Fs.Base : ins.SegmentPrefix == Register.GS ? Gs.Base : 0;
        int iterations = 0;
        while (!rep || Gpr.Rcx != 0)
        {
            if (rep && ++iterations > RepIterationsPerStep)
            {
                // Interrupted between iterations, as hardware may be: RIP stays at the instruction and the registers say
                // how far it got, so the run loop can check its budget, timeout and stop requests before it goes on.
                // Without this one REP with a huge RCX over mapped but unbacked memory would run for hours.
                Rip = _currentInstructionIp;
                YieldRequested = true;
                return ExecutionStatus.Branched;
            }
            switch (m)
            {
                case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd: case Mnemonic.Movsq:
                    WriteMemory(Gpr.Rdi, size, ReadMemory(sourceBase + Gpr.Rsi, size));
                    Gpr.Rsi += (ulong)step;
                    Gpr.Rdi += (ulong)step;
                    break;
                case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
                    WriteMemory(Gpr.Rdi, size, Gpr.Rax);
                    Gpr.Rdi += (ulong)step;
                    break;
                case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
                    WriteRegister(SizedAccumulator(size), ReadMemory(sourceBase + Gpr.Rsi, size));
                    Gpr.Rsi += (ulong)step;
                    break;
                case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd: case Mnemonic.Cmpsq:
                {
                    ulong a = ReadMemory(sourceBase + Gpr.Rsi, size), b = ReadMemory(Gpr.Rdi, size);
                    SetLazy(LazyFlagOp.Sub, a, b, (a - b) & SizeMask(size), size);
                    Gpr.Rsi += (ulong)step;
                    Gpr.Rdi += (ulong)step;
                    break;
                }
                default:
                {
                    ulong a = Gpr.Rax & SizeMask(size), b = ReadMemory(Gpr.Rdi, size);
                    SetLazy(LazyFlagOp.Sub, a, b, (a - b) & SizeMask(size), size);
                    Gpr.Rdi += (ulong)step;
                    break;
                }
            }
            if (!rep) break;
            Gpr.Rcx--;
            if (compares && (ins.HasRepePrefix ? !GetZF() : GetZF())) break;
        }
        return ExecutionStatus.Continue;
    }
}
