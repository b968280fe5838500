using Dispatch.Vmx;

namespace Dispatch;

/// <summary>A virtual processor: its VMCS and the registers VT-x leaves in the processor across exits.</summary>
public sealed partial class VCpu
{
    private GuestRegisters _registers;

    public Vmcs Vmcs { get; } = new();

    public ref GuestRegisters Registers => ref _registers;
}
