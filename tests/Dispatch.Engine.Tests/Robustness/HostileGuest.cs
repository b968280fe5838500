using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;

namespace Dispatch.Engine.Tests.Robustness;

/// <summary>One hostile guest: random code, registers, privilege level, exception routing and IDT.</summary>
public sealed record HostileCase(byte[] Code, ulong[] Registers, int Cpl, bool ExceptionsExit, byte[]? Idt, int HandlerSeed,
    ulong MemorySize = HostileGuest.MemorySize, ulong CodeAddress = HostileGuest.CodeAddress)
{
    public override string ToString() =>
        $"MemorySize=0x{MemorySize:X} CodeAddress=0x{CodeAddress:X} Cpl={Cpl} ExceptionsExit={ExceptionsExit} HandlerSeed={HandlerSeed}\n  Code=\"{Convert.ToHexString(Code)}\"\n" +
        $"  Registers=[{string.Join(", ", Registers.Select(r => $"0x{r:X}"))}]\n  Idt={(Idt is null ? "null" : $"\"{Convert.ToHexString(Idt)}\"")}";
}

/// <summary>Runs a <see cref="HostileCase"/> and says whether it ended architecturally.</summary>
internal static class HostileGuest
{
    // Small, so that a fresh machine per case is cheap (first touches of host pages dominate otherwise); the identity
    // map still spans 2 MiB, so guests also reach addresses no RAM backs.
    public const ulong MemorySize = 512 << 10;
    public const ulong CodeAddress = 0x2_0000;
    public const long MaxInstructions = 5_000;
    public const int MaxExits = 40;

    /// <summary>The outcomes a guest may cause: its exits reached a handler that stopped, it halted, or its budget ran out.</summary>
    public static bool IsArchitectural(RunOutcome outcome) =>
        outcome is RunOutcome.Stopped or RunOutcome.Halted or RunOutcome.BudgetExhausted;

    public static RunResult Run(HostileCase c, out List<ExitReasonField> exits)
    {
        using var vm = new VirtualMachine(c.MemorySize);
        vm.Memory.Write(new GuestPhysicalAddress(c.CodeAddress), c.Code);
        var vcpu = vm.CreateVCpu();
        LongModeGuest.Setup(vcpu, c.CodeAddress, new LongModeGuestOptions
        {
            Cpl = c.Cpl,
            ExceptionBitmap = c.ExceptionsExit ? 0xFFFF_FFFF : 0,
            EnableSyscall = (c.HandlerSeed & 1) != 0,
        });
        if (c.Idt is not null) vm.Memory.Write(new GuestPhysicalAddress(LongModeGuest.IdtAddress), c.Idt);
        for (int i = 0; i < 16; i++)
            if (i != 4) vcpu.Registers[i] = c.Registers[i];
        var handler = new HostileHandler(c.HandlerSeed);
        var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = MaxInstructions, Timeout = TimeSpan.FromSeconds(2) });
        exits = handler.Exits;
        return result;
    }

    /// <summary>Completes, resumes or stops on each exit by a seeded choice; always stops on triple fault, HLT or too many exits.</summary>
    private struct HostileHandler(int seed) : IExitHandler
    {
        private readonly Random _random = new(seed);
        public readonly List<ExitReasonField> Exits = [];

        public ExitAction Dispatch(ref ExitContext context)
        {
            var reason = context.ExitReason;
            Exits.Add(reason);
            if (Exits.Count >= MaxExits || reason.Basic is ExitReason.TripleFault or ExitReason.Hlt) return ExitAction.Stop;
            if (reason.Basic == ExitReason.Cpuid)
                CpuidModel.Default.Query((uint)context.Registers.Rax, (uint)context.Registers.Rcx).WriteTo(ref context.Registers);
            return _random.Next(8) switch
            {
                0 => ExitAction.Stop,
                1 => ExitAction.Resume,
                _ => ExitAction.Complete,
            };
        }
    }
}
