using Dispatch.Vmx;

namespace Dispatch.Samples.SerialConsole;

/// <summary>The VMM: COM1's transmit register goes to the console, HLT stops the guest.</summary>
public partial struct SerialConsole
{
    [ExitHandler(ExitReason.IoInstruction, Port = 0x3F8)]
    private static void Transmit(ref GuestRegisters registers, IoQualification io)
    {
        if (io.IsOut) Console.Write((char)(byte)registers.Rax);
    }

    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction Halt() => ExitAction.Stop;
}
