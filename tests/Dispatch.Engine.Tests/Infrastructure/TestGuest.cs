using Dispatch.Guests;
using Iced.Intel;

namespace Dispatch.Engine.Tests;

/// <summary>Assembles a 64-bit guest with Iced, loads it at 0x100000 and prepares a vCPU to run it.</summary>
internal static class TestGuest
{
    public const ulong CodeAddress = LongModeGuest.DefaultLoadAddress;

    public static (VirtualMachine Vm, VCpu VCpu) Create(Action<Assembler> program, LongModeGuestOptions? options = null, ulong memory = 4 << 20) =>
        Create(program, out _, options, memory);

    /// <summary>As <see cref="Create(Action{Assembler}, LongModeGuestOptions?, ulong)"/>, also returning the assembly result for label addresses.</summary>
    public static (VirtualMachine Vm, VCpu VCpu) Create(Action<Assembler> program, out AssemblerResult assembled, LongModeGuestOptions? options = null, ulong memory = 4 << 20)
    {
        var a = new Assembler(64);
        program(a);
        var stream = new MemoryStream();
        assembled = a.Assemble(new StreamCodeWriter(stream), CodeAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var vm = new VirtualMachine(memory);
        vm.Memory.Write(new Memory.GuestPhysicalAddress(CodeAddress), stream.ToArray());
        var vcpu = vm.CreateVCpu();
        LongModeGuest.Setup(vcpu, CodeAddress, options);
        return (vm, vcpu);
    }
}
