using Dispatch.Vmx;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// How a VMM handles XSETBV, which always exits in VMX non-root operation (reason 55): apply the value with
/// <see cref="VCpu.TrySetXcr"/> and advance past the instruction, or inject the #GP(0) XSETBV itself would raise.
/// CPUID is answered for the guest's own CR4 (so OSXSAVE follows it); HLT and exceptions stop the run.
/// </summary>
internal sealed class XsetbvHandler : IExitHandler
{
    public List<ExitReason> Reasons { get; } = [];

    /// <summary>Vector of the exception that stopped the run, or -1.</summary>
    public int ExceptionVector { get; private set; } = -1;

    public ExitAction Dispatch(ref ExitContext context)
    {
        var reason = context.ExitReason.Basic;
        Reasons.Add(reason);
        ref var registers = ref context.Registers;
        switch (reason)
        {
            case ExitReason.Xsetbv:
            {
                ulong value = ((registers.Rdx & 0xFFFF_FFFF) << 32) | (registers.Rax & 0xFFFF_FFFF);
                return context.VCpu.TrySetXcr((uint)registers.Rcx, value)
                    ? ExitAction.Advance
                    : ExitAction.InjectException(Vmx.ExceptionVector.GeneralProtection, 0);
            }
            case ExitReason.Cpuid:
                CpuidModel.Default.Query(context.VCpu).WriteTo(ref registers);
                return ExitAction.Advance;
            case ExitReason.ExceptionOrNmi:
                ExceptionVector = context.InterruptionInfo.Vector;
                return ExitAction.Stop;
            default:
                return ExitAction.Stop;
        }
    }
}
