using Dispatch.Vmx;

namespace Dispatch.Engine.Tests;

/// <summary>
/// A hand-written handler for engine tests: records every exit's information, answers CPUID from the model, and stops on
/// HLT, exceptions and triple faults (or on any reason listed in <see cref="StopOn"/>): resuming into a fault would only
/// fault again.
/// </summary>
internal sealed class RecordingHandler : IExitHandler
{
    public List<RecordedExit> Exits { get; } = [];

    public HashSet<ExitReason> StopOn { get; } = [ExitReason.Hlt, ExitReason.ExceptionOrNmi, ExitReason.TripleFault];

    public Func<RecordedExit, ExitAction>? OnExit { get; set; }

    public ExitAction Dispatch(ref ExitContext context)
    {
        var exit = new RecordedExit(context.ExitReason, context.ExitQualification, context.InstructionLength,
            context.GuestRip, context.InterruptionInfo, context.InterruptionErrorCode, context.GuestLinearAddress,
            context.GuestPhysicalAddress, context.InstructionInformation, context.IdtVectoringInfo, context.Registers.Rax);
        Exits.Add(exit);
        if (OnExit is not null) return OnExit(exit);
        if (StopOn.Contains(exit.Reason.Basic)) return ExitAction.Stop;
        if (exit.Reason.Basic == ExitReason.Cpuid)
            CpuidModel.Default.Query(context.VCpu).WriteTo(ref context.Registers);
        return ExitAction.Complete;
    }
}

internal readonly record struct RecordedExit(ExitReasonField Reason, ulong Qualification, int InstructionLength, ulong Rip,
    InterruptionInfo Interruption, uint InterruptionErrorCode, ulong GuestLinearAddress, ulong GuestPhysicalAddress,
    uint InstructionInformation, InterruptionInfo IdtVectoring, ulong Rax);
