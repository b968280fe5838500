using System.Text;
using Dispatch;
using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Vmx;

// mov dx, 0x3F8; mov al, 'H'; out dx, al; mov al, 'i'; out dx, al; mov al, '!'; out dx, al; hlt
byte[] guest = [0x66, 0xBA, 0xF8, 0x03, 0xB0, 0x48, 0xEE, 0xB0, 0x69, 0xEE, 0xB0, 0x21, 0xEE, 0xF4];

using var vm = new VirtualMachine(4 << 20);
var vcpu = vm.CreateVCpu();
vm.Memory.Write(new GuestPhysicalAddress(LongModeGuest.DefaultLoadAddress), guest);
LongModeGuest.Setup(vcpu, LongModeGuest.DefaultLoadAddress);

var vmm = new ConsumerVmm();
RunResult result = vcpu.Run(ref vmm, new RunOptions { MaxInstructions = 1_000 });

Console.WriteLine($"serial: {vmm.Serial}");
Console.WriteLine($"outcome: {result.Outcome}");
Console.WriteLine($"io exits: {vmm.IoExits}");
return result.Outcome == RunOutcome.Stopped ? 0 : 1;

/// <summary>Handlers written by a package user; the generator from the package implements <see cref="IExitHandler"/>.</summary>
public sealed partial class ConsumerVmm
{
    public StringBuilder Serial { get; } = new();

    public int IoExits { get; private set; }

    [ExitHandler(ExitReason.IoInstruction, Port = 0x3F8)]
    private void Com1(IoQualification io, ref GuestRegisters registers)
    {
        IoExits++;
        if (io.IsOut)
            Serial.Append((char)(byte)registers.Rax);
    }

    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction Halt() => ExitAction.Stop;

    [DefaultExitHandler]
    private static ExitAction Unexpected(ExitReasonField reason)
    {
        Console.WriteLine($"unexpected exit: {reason}");
        return ExitAction.Stop;
    }
}
