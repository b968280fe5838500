using Dispatch.Linux;
using Dispatch.Vmx;

namespace Dispatch.Cli.Linux;

/// <summary>
/// The VMM for Linux processes: the system-call stub's VMCALL goes to the process's kernel, CPUID answers from the engine's
/// model, exceptions become demand paging or signals, the VMX-preemption timer is the process's real-time timer. Anything
/// else stops the run.
/// </summary>
public sealed partial class LinuxHandlers(LinuxProcess process)
{
    [ExitHandler(ExitReason.Vmcall)]
    private ExitAction SystemCall(ref ExitContext context) => process.SystemCall(ref context);

    [ExitHandler(ExitReason.Cpuid)]
    private static void Cpuid(ref ExitContext context) => CpuidModel.Default.Query(context.VCpu).WriteTo(ref context.Registers);

    [ExitHandler(ExitReason.ExceptionOrNmi)]
    private ExitAction Exception(ref ExitContext context, InterruptionInfo info) => process.Exception(ref context, info);

    [ExitHandler(ExitReason.VmxPreemptionTimerExpired)]
    private ExitAction Timer(ref ExitContext context) => process.TimerExpired(ref context);

    [ExitHandler(ExitReason.TripleFault)]
    private ExitAction TripleFault(ref ExitContext context) =>
        process.Terminate(139, $"triple fault, {process.Describe(context.GuestRip)}");

    [DefaultExitHandler]
    private ExitAction Other(ref ExitContext context) =>
        process.Terminate(139, $"unexpected VM exit {context.ExitReason}, {process.Describe(context.GuestRip)}");
}
