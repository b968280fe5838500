using Dispatch.Vmx;

namespace Dispatch.Generators.Tests.Handlers;

/// <summary>Typed views of VMCS fields, implemented by the generator when this project builds.</summary>
public readonly partial struct GuestFieldView(Vmcs vmcs)
{
    private readonly Vmcs _vmcs = vmcs;

    [VmcsFieldAccessor(VmcsField.GuestRip)] public partial ulong Rip { get; set; }

    [VmcsFieldAccessor(VmcsField.GuestCsSelector)] public partial ushort Cs { get; set; }

    [VmcsFieldAccessor(VmcsField.VmExitReason)] public partial uint Reason { get; }

    [VmcsFieldAccessor(VmcsField.TscOffsetHigh)] public partial uint TscOffsetHigh { get; set; }
}
