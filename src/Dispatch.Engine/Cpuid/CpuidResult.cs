namespace Dispatch;

/// <summary>The four registers CPUID returns.</summary>
public readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    /// <summary>Writes the result into the guest's RAX, RBX, RCX and RDX (upper halves cleared, as CPUID does).</summary>
    public void WriteTo(ref GuestRegisters registers)
    {
        registers.Rax = Eax;
        registers.Rbx = Ebx;
        registers.Rcx = Ecx;
        registers.Rdx = Edx;
    }
}
