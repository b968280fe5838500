using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// A handler's answer to a VM exit. A small value type: returning one allocates nothing.
/// <para>
/// RIP advancement is explicit: <see cref="Advance"/> moves RIP past the exiting instruction, <see cref="Resume"/> does not,
/// and <see cref="Complete"/> (what a <c>void</c> handler means) advances only when the exit was caused by an instruction.
/// Injecting an event never advances RIP, except that a software interrupt or software exception uses
/// <see cref="InstructionLength"/> as the SDM's VM-entry instruction length.
/// </para>
/// </summary>
public readonly record struct ExitAction
{
    private ExitAction(ExitActionKind kind, InterruptionInfo evt = default, uint errorCode = 0, int instructionLength = 0)
    {
        Kind = kind;
        Event = evt;
        ErrorCode = errorCode;
        InstructionLength = instructionLength;
    }

    public ExitActionKind Kind { get; }

    /// <summary>The event to inject (valid for <see cref="ExitActionKind.Inject"/>).</summary>
    public InterruptionInfo Event { get; }

    /// <summary>The error code pushed with the injected event, when <see cref="InterruptionInfo.HasErrorCode"/>.</summary>
    public uint ErrorCode { get; }

    /// <summary>VM-entry instruction length (0x401A) for injected software interrupts and exceptions.</summary>
    public int InstructionLength { get; }

    /// <inheritdoc cref="ExitActionKind.Complete"/>
    public static ExitAction Complete => default;

    /// <inheritdoc cref="ExitActionKind.Advance"/>
    public static ExitAction Advance => new(ExitActionKind.Advance);

    /// <inheritdoc cref="ExitActionKind.Resume"/>
    public static ExitAction Resume => new(ExitActionKind.Resume);

    /// <inheritdoc cref="ExitActionKind.Stop"/>
    public static ExitAction Stop => new(ExitActionKind.Stop);

    /// <inheritdoc cref="ExitActionKind.Unhandled"/>
    public static ExitAction Unhandled => new(ExitActionKind.Unhandled);

    /// <summary>Injects <paramref name="evt"/> on the next VM entry (the SDM's event injection, 27.6).</summary>
    public static ExitAction Inject(InterruptionInfo evt, uint errorCode = 0, int instructionLength = 0) =>
        new(ExitActionKind.Inject, evt, errorCode, instructionLength);

    /// <summary>Injects a hardware exception; the error code is pushed when the vector defines one (#GP, #PF, ...).</summary>
    public static ExitAction InjectException(byte vector, uint errorCode = 0) =>
        Inject(InterruptionInfo.HardwareException(vector), errorCode);

    public override string ToString() => Kind == ExitActionKind.Inject ? $"Inject {Event}" : Kind.ToString();
}
