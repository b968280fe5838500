using Dispatch.Vmx;

namespace Dispatch.Generators.Tests.Handlers;

/// <summary>Every refinement, every bindable parameter, static and instance handlers and a default handler.</summary>
public sealed partial class RefinedHandlers
{
    public static string? LastStatic;

    public string? Last;
    public ulong LastValue;

    [ExitHandler(ExitReason.Cpuid)]
    private ExitAction AnyLeaf(ref ExitContext context)
    {
        Last = nameof(AnyLeaf);
        LastValue = context.Registers.Rax;
        return ExitAction.Advance;
    }

    [ExitHandler(ExitReason.Cpuid, Leaf = 0x40000000)]
    private void HypervisorLeaf(ref GuestRegisters registers)
    {
        Last = nameof(HypervisorLeaf);
        registers.Rax = 0x40000001;
    }

    [ExitHandler(ExitReason.Cpuid, Leaf = 7, Subleaf = 0)]
    private void Leaf7Subleaf0() => Last = nameof(Leaf7Subleaf0);

    [ExitHandler(ExitReason.Cpuid, Leaf = 7, Subleaf = 1)]
    private void Leaf7Subleaf1() => Last = nameof(Leaf7Subleaf1);

    [ExitHandler(ExitReason.Cpuid, Leaf = 0xD, Subleaf = 1)]
    private void LeafDSubleaf1() => Last = nameof(LeafDSubleaf1);

    [ExitHandler(ExitReason.IoInstruction, Port = 0x3F8)]
    private ExitAction SerialData(IoQualification io)
    {
        Last = nameof(SerialData);
        LastValue = io.Port;
        return ExitAction.Advance;
    }

    [ExitHandler(ExitReason.IoInstruction, Port = 0x3F9)]
    [ExitHandler(ExitReason.IoInstruction, Port = 0x3FD)]
    private void SerialControl(IoQualification io, VCpu vcpu)
    {
        Last = nameof(SerialControl);
        LastValue = io.Port;
    }

    [ExitHandler(ExitReason.IoInstruction)]
    private ExitAction OtherPort(IoQualification io)
    {
        Last = nameof(OtherPort);
        LastValue = io.Port;
        return ExitAction.Advance;
    }

    [ExitHandler(ExitReason.Rdmsr, Msr = 0x10)]
    [ExitHandler(ExitReason.Wrmsr, Msr = 0x10)]
    private static ExitAction TimeStampCounter(in GuestRegisters registers, ExitReasonField reason)
    {
        LastStatic = reason.Basic == ExitReason.Rdmsr ? "RdTsc" : "WrTsc";
        return ExitAction.Advance;
    }

    [ExitHandler(ExitReason.Rdmsr, Msr = 0xC0000080)]
    private void Efer() => Last = nameof(Efer);

    [ExitHandler(ExitReason.CrAccess, ControlRegister = 3)]
    private void Cr3(CrAccessQualification qualification)
    {
        Last = nameof(Cr3);
        LastValue = (ulong)qualification.GeneralRegister;
    }

    [ExitHandler(ExitReason.CrAccess, ControlRegister = 0)]
    private void Cr0(in ExitContext context) => Last = nameof(Cr0);

    [ExitHandler(ExitReason.ExceptionOrNmi, Vector = 14)]
    private ExitAction PageFault(InterruptionInfo info)
    {
        Last = nameof(PageFault);
        LastValue = info.Vector;
        return ExitAction.Resume;
    }

    [ExitHandler(ExitReason.ExceptionOrNmi, Vector = 6)]
    private ExitAction InvalidOpcode() 
    {
        Last = nameof(InvalidOpcode);
        return ExitAction.InjectException(ExceptionVector.InvalidOpcode);
    }

    [ExitHandler(ExitReason.MovDr)]
    private void MovDr(MovDrQualification qualification)
    {
        Last = nameof(MovDr);
        LastValue = (ulong)qualification.DebugRegister;
    }

    [ExitHandler(ExitReason.EptViolation)]
    private ExitAction Ept(Vmcs vmcs, EptViolationQualification qualification)
    {
        Last = nameof(Ept);
        LastValue = qualification.IsWrite ? 1UL : 0UL;
        return ExitAction.Stop;
    }

    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction Halt()
    {
        LastStatic = nameof(Halt);
        return ExitAction.Stop;
    }

    [DefaultExitHandler]
    private ExitAction Fallback(ExitReasonField reason, ExitContext context)
    {
        Last = nameof(Fallback);
        LastValue = reason.Raw;
        return ExitAction.Unhandled;
    }
}
