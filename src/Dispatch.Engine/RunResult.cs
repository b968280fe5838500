using Dispatch.Vmx;

namespace Dispatch;

/// <summary>The end of a run: why it stopped, the last exit, and any VM-instruction error or handler exception.</summary>
public readonly record struct RunResult(RunOutcome Outcome, ExitReasonField LastExit, VmInstructionError InstructionError, Exception? Exception)
{
    public override string ToString() => Outcome switch
    {
        RunOutcome.EntryFailed => $"VM entry failed (VM-instruction error {(int)InstructionError}: {InstructionError})",
        RunOutcome.Unhandled => $"unhandled exit: {LastExit}",
        RunOutcome.EngineFailed => $"engine failure: {Exception?.GetType().Name}: {Exception?.Message}",
        RunOutcome.VmxAbort => $"VMX abort: {Exception?.Message}",
        RunOutcome.HandlerFailed => $"handler for {LastExit} threw {Exception?.GetType().Name}: {Exception?.Message}",
        _ => Outcome.ToString(),
    };
}
