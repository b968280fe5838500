using Dispatch.Devices;
using Dispatch.Vmx;

namespace Dispatch.Cli.Demo;

/// <summary>
/// The demo's VMM, written as plain methods: the generator turns them into one switch over the exit reason.
/// </summary>
public sealed partial class DemoHandlers(SerialPort serial)
{
    /// <summary>The 12-byte signature returned in EBX, ECX, EDX for CPUID leaf 0x40000000.</summary>
    public const string Signature = "Dispatch VMM";

    /// <summary>Every I/O exit in the order it happened (for tests and tracing).</summary>
    public List<IoQualification> IoExits { get; } = [];

    [ExitHandler(ExitReason.IoInstruction)]
    private void Io(ref ExitContext context, IoQualification io)
    {
        IoExits.Add(io);
        if (io.IsOut) serial.Write(io.Port, (byte)context.Registers.Rax);
        else context.Registers.Rax = (context.Registers.Rax & ~0xFFUL) | serial.Read(io.Port);
    }

    [ExitHandler(ExitReason.Cpuid, Leaf = DemoGuest.HypervisorLeaf)]
    private static void HypervisorLeaf(ref GuestRegisters registers)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(Signature);
        registers.Rax = DemoGuest.HypervisorLeaf;
        registers.Rbx = BitConverter.ToUInt32(bytes, 0);
        registers.Rcx = BitConverter.ToUInt32(bytes, 4);
        registers.Rdx = BitConverter.ToUInt32(bytes, 8);
    }

    [ExitHandler(ExitReason.Cpuid)]
    private static void OtherLeaves(ref GuestRegisters registers) =>
        CpuidModel.Default.Query((uint)registers.Rax, (uint)registers.Rcx).WriteTo(ref registers);

    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction Halt() => ExitAction.Stop;
}
