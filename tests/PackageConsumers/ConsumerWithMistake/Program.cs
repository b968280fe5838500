using Dispatch;
using Dispatch.Vmx;

Console.WriteLine(typeof(MistakenVmm));

/// <summary>Two handlers for HLT: the analyzer from the package must report DSP0001 and fail the build.</summary>
public sealed partial class MistakenVmm
{
    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction Halt() => ExitAction.Stop;

    [ExitHandler(ExitReason.Hlt)]
    private static ExitAction HaltAgain() => ExitAction.Resume;
}
