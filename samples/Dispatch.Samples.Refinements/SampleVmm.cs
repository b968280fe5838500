using Dispatch.Vmx;

namespace Dispatch.Samples.Refinements;

/// <summary>
/// A tiny VMM written as exit handlers. The generator turns the attributed methods into <c>Dispatch</c>: a switch over the
/// exit reason, and below it switches over the CPUID leaf, the I/O port, the MSR, the control register and the vector.
/// </summary>
public sealed partial class SampleVmm
{
    private const uint HypervisorLeaf = 0x40000000;
    private const int Com1 = 0x3F8;
    private const uint Ia32Efer = 0xC0000080;

    public ulong GuestEfer { get; private set; }

    /// <summary>CPUID leaves nobody else claims: report nothing (all zeros), like an empty leaf.</summary>
    [ExitHandler(ExitReason.Cpuid)]
    private static void CpuidOther(ref GuestRegisters registers)
    {
        Console.WriteLine($"  CpuidOther: leaf 0x{(uint)registers.Rax:X} -> zeros");
        registers.Rax = registers.Rbx = registers.Rcx = registers.Rdx = 0;
    }

    /// <summary>The hypervisor vendor leaf: "DispatchVMM!" in EBX, ECX, EDX.</summary>
    [ExitHandler(ExitReason.Cpuid, Leaf = HypervisorLeaf)]
    private static void CpuidHypervisor(ref GuestRegisters registers)
    {
        registers.Rax = HypervisorLeaf;
        registers.Rbx = 0x70736944; // "Disp"
        registers.Rcx = 0x68637461; // "atch"
        registers.Rdx = 0x214D4D56; // "VMM!"
        Console.WriteLine("  CpuidHypervisor: vendor \"DispatchVMM!\"");
    }

    /// <summary>COM1 data port: print what the guest writes. Returning void means Complete: RIP moves past the OUT.</summary>
    [ExitHandler(ExitReason.IoInstruction, Port = Com1)]
    private static void SerialData(IoQualification io, ref GuestRegisters registers)
    {
        if (io.IsOut)
            Console.WriteLine($"  SerialData: guest wrote '{(char)(byte)registers.Rax}' to COM1");
    }

    /// <summary>Every other port: nothing is there, so writes vanish and reads return all ones.</summary>
    [ExitHandler(ExitReason.IoInstruction)]
    private static void OtherPorts(IoQualification io, ref GuestRegisters registers)
    {
        Console.WriteLine($"  OtherPorts: {io} -> no device");
        if (io.IsIn) registers.Rax |= io.Size == 4 ? 0xFFFF_FFFFUL : (1UL << (io.Size * 8)) - 1;
    }

    /// <summary>EFER reads and writes, one method for both reasons; the exit reason says which.</summary>
    [ExitHandler(ExitReason.Rdmsr, Msr = Ia32Efer)]
    [ExitHandler(ExitReason.Wrmsr, Msr = Ia32Efer)]
    private ExitAction Efer(ExitReasonField reason, ref GuestRegisters registers)
    {
        if (reason.Basic == ExitReason.Wrmsr)
            GuestEfer = (registers.Rdx << 32) | (uint)registers.Rax;
        else
            (registers.Rax, registers.Rdx) = ((uint)GuestEfer, GuestEfer >> 32);
        Console.WriteLine($"  Efer: {reason.Basic} EFER = 0x{GuestEfer:X}");
        return ExitAction.Advance;
    }

    /// <summary>MOV to CR3: a real VMM would switch shadow page tables here.</summary>
    [ExitHandler(ExitReason.CrAccess, ControlRegister = 3)]
    private static ExitAction Cr3(CrAccessQualification access, in GuestRegisters registers)
    {
        Console.WriteLine($"  Cr3: {access.AccessType} via register {access.GeneralRegister} (0x{registers[access.GeneralRegister]:X})");
        return ExitAction.Advance;
    }

    /// <summary>#UD in the guest: reflect it back so the guest's own handler runs.</summary>
    [ExitHandler(ExitReason.ExceptionOrNmi, Vector = ExceptionVector.InvalidOpcode)]
    private static ExitAction InvalidOpcode(InterruptionInfo info)
    {
        Console.WriteLine($"  InvalidOpcode: {info} -> inject #UD");
        return ExitAction.InjectException(ExceptionVector.InvalidOpcode);
    }

    /// <summary>Everything else, VM-entry failures included, stops the vCPU.</summary>
    [DefaultExitHandler]
    private static ExitAction Unexpected(ExitReasonField reason)
    {
        Console.WriteLine($"  Unexpected: {reason.Basic}{(reason.IsEntryFailure ? " (VM-entry failure)" : "")} -> stop");
        return ExitAction.Stop;
    }
}
