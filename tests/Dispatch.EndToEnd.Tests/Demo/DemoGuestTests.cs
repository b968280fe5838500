using Dispatch.Cli;
using Dispatch.Cli.Demo;
using Dispatch.Devices;
using Dispatch.Vmx;

namespace Dispatch.EndToEnd.Tests.Demo;

public sealed class DemoGuestTests
{
    [Fact]
    public void Demo_PrintsGreetingAndSignature_ThroughIoAndCpuidExits()
    {
        var (vm, vcpu) = DemoGuest.Create();
        using (vm)
        {
            var serial = new MemoryStream();
            var handlers = new DemoHandlers(new SerialPort(serial));
            var result = vcpu.Run(ref handlers);

            Assert.Equal(RunOutcome.Stopped, result.Outcome);
            Assert.Equal(ExitReason.Hlt, result.LastExit.Basic);
            string text = System.Text.Encoding.ASCII.GetString(serial.ToArray());
            Assert.Equal(DemoGuest.Greeting + "Hypervisor signature: " + DemoHandlers.Signature + "\n", text);

            // One OUT per byte, each an OUT of size 1 to COM1 through DX (not an immediate, not a string instruction).
            Assert.Equal(text.Length, handlers.IoExits.Count);
            Assert.All(handlers.IoExits, io =>
            {
                Assert.True(io.IsOut);
                Assert.Equal(SerialPort.Com1, io.Port);
                Assert.Equal(1, io.Size);
                Assert.False(io.IsString);
                Assert.False(io.IsImmediateOperand);
            });
            Assert.Equal(text.Length, vcpu.Statistics.Count(ExitReason.IoInstruction));
            Assert.Equal(1, vcpu.Statistics.Count(ExitReason.Cpuid));
            Assert.Equal(1, vcpu.Statistics.Count(ExitReason.Hlt));
        }
    }

    [Fact]
    public void Demo_ExitOrder_IsGreetingThenCpuidThenSignatureThenHlt()
    {
        var (vm, vcpu) = DemoGuest.Create();
        using (vm)
        {
            var order = new List<ExitReason>();
            var handler = new OrderRecorder(new DemoHandlers(new SerialPort(new MemoryStream())), order);
            vcpu.Run(ref handler);
            int greeting = DemoGuest.Greeting.Length;
            Assert.All(order.Take(greeting), r => Assert.Equal(ExitReason.IoInstruction, r));
            Assert.Equal(ExitReason.Cpuid, order[greeting]);
            Assert.All(order.Skip(greeting + 1).SkipLast(1), r => Assert.Equal(ExitReason.IoInstruction, r));
            Assert.Equal(ExitReason.Hlt, order[^1]);
        }
    }

    [Fact]
    public void RunCommand_WithoutArguments_PrintsOutputAndExitTable()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = RunCommand.Execute(new RunCommandOptions(null, 64, false, null), output, error);
        string text = output.ToString();
        Assert.Equal(0, status);
        Assert.Equal("", error.ToString());
        Assert.Contains(DemoGuest.Greeting, text);
        Assert.Contains("Hypervisor signature: Dispatch VMM", text);
        Assert.Matches(@"IoInstruction \(30\)\s+64", text);
        Assert.Matches(@"Cpuid \(10\)\s+1", text);
        Assert.Matches(@"Hlt \(12\)\s+1", text);
        Assert.Matches(@"Total\s+66", text);
    }

    /// <summary>Wraps a generated dispatcher to record the order of exits, as a tracing VMM layer would.</summary>
    private struct OrderRecorder(DemoHandlers inner, List<ExitReason> order) : IExitHandler
    {
        public ExitAction Dispatch(ref ExitContext context)
        {
            order.Add(context.ExitReason.Basic);
            return inner.Dispatch(ref context);
        }
    }
}
