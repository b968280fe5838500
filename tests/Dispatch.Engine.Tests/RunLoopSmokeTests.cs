using Dispatch.Vmx;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests;

public sealed class RunLoopSmokeTests
{
    [Fact]
    public void ArithmeticThenCpuidThenHlt_ExitsInOrderWithLengths()
    {
        var cpuidLabel = default(Iced.Intel.Label);
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            cpuidLabel = a.CreateLabel();
            a.mov(eax, 5);
            a.add(eax, 7);
            a.mov(ebx, eax);
            a.xor(eax, eax);
            a.Label(ref cpuidLabel);
            a.cpuid();
            a.hlt();
        }, out var assembled);
        using (vm)
        {
            var handler = new RecordingHandler();
            var result = vcpu.Run(ref handler);
            Assert.True(result.Outcome == RunOutcome.Stopped, $"{result} {vcpu.LastEntryCheck}");
            Assert.Equal([ExitReason.Cpuid, ExitReason.Hlt], handler.Exits.Select(e => e.Reason.Basic));
            Assert.Equal(2, handler.Exits[0].InstructionLength);
            Assert.Equal(assembled.GetLabelRIP(cpuidLabel), handler.Exits[0].Rip);
            Assert.Equal(handler.Exits[0].Rip + 2, handler.Exits[1].Rip);
            Assert.Equal(1, handler.Exits[1].InstructionLength);
            // CPUID leaf 0 answered from the model: max leaf 0DH (processor extended state) in EAX.
            Assert.Equal(0xDUL, vcpu.Registers.Rax);

        }
    }
}
