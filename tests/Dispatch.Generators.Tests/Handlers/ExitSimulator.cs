using Dispatch.Vmx;

namespace Dispatch.Generators.Tests.Handlers;

/// <summary>Writes the exit information of one VM exit into a vCPU's VMCS, as the VT-x model does on a VM exit.</summary>
internal static class ExitSimulator
{
    public static VCpu Exit(uint rawReason, ulong qualification = 0, uint interruption = 0, ulong rax = 0, ulong rcx = 0)
    {
        var vcpu = new VirtualMachine(1 << 20).CreateVCpu();
        Set(vcpu, rawReason, qualification, interruption, rax, rcx);
        return vcpu;
    }

    public static VCpu Exit(ExitReason reason, ulong qualification = 0, uint interruption = 0, ulong rax = 0, ulong rcx = 0) =>
        Exit((uint)reason, qualification, interruption, rax, rcx);

    public static void Set(VCpu vcpu, uint rawReason, ulong qualification = 0, uint interruption = 0, ulong rax = 0, ulong rcx = 0)
    {
        vcpu.Vmcs.Write(VmcsField.VmExitReason, rawReason);
        vcpu.Vmcs.Write(VmcsField.ExitQualification, qualification);
        vcpu.Vmcs.Write(VmcsField.VmExitInterruptionInformation, interruption);
        vcpu.Registers.Rax = rax;
        vcpu.Registers.Rcx = rcx;
    }

    public static ExitAction DispatchExit<THandler>(ref THandler handler, VCpu vcpu)
        where THandler : IExitHandler
    {
        var context = new ExitContext(vcpu);
        return handler.Dispatch(ref context);
    }
}
