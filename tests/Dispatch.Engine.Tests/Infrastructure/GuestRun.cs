using Dispatch.Guests;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Engine.Tests;

/// <summary>One guest run for exit-condition tests: assemble, set controls, run with a recording handler.</summary>
internal sealed class GuestRun
{
    public required RunResult Result { get; init; }
    public required List<RecordedExit> Exits { get; init; }
    public required VCpu VCpu { get; init; }
    public required AssemblerResult Assembled { get; init; }

    public RecordedExit Single(ExitReason reason) => Assert.Single(Exits, e => e.Reason.Basic == reason);

    public static GuestRun Execute(Action<Assembler> program, LongModeGuestOptions? options = null,
        Action<VCpu>? configure = null, Func<RecordedExit, ExitAction>? onExit = null, long maxInstructions = 100_000)
    {
        var (vm, vcpu) = TestGuest.Create(program, out var assembled, options);
        configure?.Invoke(vcpu);
        var handler = new RecordingHandler { OnExit = onExit };
        var result = vcpu.Run(ref handler, new RunOptions { MaxInstructions = maxInstructions, Timeout = TimeSpan.FromSeconds(20) });
        // The VM stays alive for the test's assertions; guest memory is released by the finalizer-free Dispose below.
        vm.Dispose();
        return new GuestRun { Result = result, Exits = handler.Exits, VCpu = vcpu, Assembled = assembled };
    }

    /// <summary>The default handler behaviour with a stop on HLT, for use as <c>onExit</c>.</summary>
    public static ExitAction CompleteUntilHlt(RecordedExit e) =>
        e.Reason.Basic is ExitReason.Hlt or ExitReason.ExceptionOrNmi or ExitReason.TripleFault ? ExitAction.Stop : ExitAction.Complete;

    public static LongModeGuestOptions With(PrimaryProcessorControls primary = PrimaryProcessorControls.HltExiting,
        SecondaryProcessorControls secondary = 0, PinBasedControls pin = 0, uint exceptionBitmap = 0xFFFF_FFFF) =>
        new() { PrimaryControls = primary, SecondaryControls = secondary, PinControls = pin, ExceptionBitmap = exceptionBitmap };
}
