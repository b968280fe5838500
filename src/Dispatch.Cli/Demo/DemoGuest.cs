using Dispatch.Guests;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Cli.Demo;

/// <summary>
/// The built-in guest: a 64-bit program assembled at run time that greets through the serial port (one OUT per byte),
/// asks CPUID leaf 0x40000000 for the hypervisor signature and prints it, then halts.
/// </summary>
public static class DemoGuest
{
    public const string Greeting = "Hello from a Dispatch guest!\n";
    public const uint HypervisorLeaf = 0x4000_0000;

    public static byte[] Assemble(ulong address)
    {
        var a = new Assembler(64);
        var greeting = a.CreateLabel();
        var signature = a.CreateLabel();
        var prefix = a.CreateLabel();

        a.mov(dx, (ushort)Devices.SerialPort.Com1);
        a.lea(rsi, __[greeting]);
        a.mov(ecx, Greeting.Length);
        EmitPrintLoop(a);

        a.mov(eax, HypervisorLeaf);
        a.xor(ecx, ecx);
        a.cpuid();
        a.lea(rdi, __[signature]);
        a.mov(__dword_ptr[rdi], ebx);
        a.mov(__dword_ptr[rdi + 4], ecx);
        a.mov(__dword_ptr[rdi + 8], edx);
        a.mov(dx, (ushort)Devices.SerialPort.Com1); // CPUID overwrote EDX

        a.lea(rsi, __[prefix]);
        a.mov(ecx, Prefix.Length);
        EmitPrintLoop(a);
        a.lea(rsi, __[signature]);
        a.mov(ecx, 12);
        EmitPrintLoop(a);
        a.mov(al, (byte)'\n');
        a.@out(dx, al);
        a.hlt();

        a.Label(ref greeting);
        a.db(System.Text.Encoding.ASCII.GetBytes(Greeting));
        a.Label(ref prefix);
        a.db(System.Text.Encoding.ASCII.GetBytes(Prefix));
        a.Label(ref signature);
        a.db(new byte[12]);

        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }

    private const string Prefix = "Hypervisor signature: ";

    // lodsb / out dx, al / dec ecx / jnz: one I/O exit per byte.
    private static void EmitPrintLoop(Assembler a)
    {
        var loop = a.CreateLabel();
        a.Label(ref loop);
        a.lodsb();
        a.@out(dx, al);
        a.dec(ecx);
        a.jnz(loop);
    }

    /// <summary>Creates a VM with the demo loaded at the default load address and a vCPU ready to run it.</summary>
    public static (VirtualMachine Vm, VCpu VCpu) Create()
    {
        var vm = new VirtualMachine(4 << 20);
        var code = Assemble(LongModeGuest.DefaultLoadAddress);
        vm.Memory.Write(new Memory.GuestPhysicalAddress(LongModeGuest.DefaultLoadAddress), code);
        var vcpu = vm.CreateVCpu();
        LongModeGuest.Setup(vcpu, LongModeGuest.DefaultLoadAddress);
        return (vm, vcpu);
    }
}
