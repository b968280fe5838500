// A guest that prints through the serial port, and the smallest VMM that shows it: one handler per exit reason.
using Dispatch;
using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Samples.SerialConsole;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

const string message = "Hello, serial console!\n";

// The guest: RSI walks the message, one OUT per byte to COM1, then HLT.
var a = new Assembler(64);
var text = a.CreateLabel();
var loop = a.CreateLabel();
a.mov(dx, (ushort)0x3F8);
a.lea(rsi, __[text]);
a.mov(ecx, message.Length);
a.Label(ref loop);
a.lodsb();
a.@out(dx, al);
a.dec(ecx);
a.jnz(loop);
a.hlt();
a.Label(ref text);
a.db(System.Text.Encoding.ASCII.GetBytes(message));
var code = new MemoryStream();
a.Assemble(new StreamCodeWriter(code), LongModeGuest.DefaultLoadAddress);

using var vm = new VirtualMachine(4 << 20);
vm.Memory.Write(new GuestPhysicalAddress(LongModeGuest.DefaultLoadAddress), code.ToArray());
var vcpu = vm.CreateVCpu();
LongModeGuest.Setup(vcpu, LongModeGuest.DefaultLoadAddress);

var console = new SerialConsole();
var result = vcpu.Run(ref console);
Console.WriteLine($"run ended: {result.Outcome} after {vcpu.Statistics.TotalExits} exits");
return result.Outcome == RunOutcome.Stopped ? 0 : 1;
