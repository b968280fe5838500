namespace Dispatch.Execution;

/// <summary>
/// Unwinds the interpreter from deep inside an instruction (a page fault in a memory operand, an EPT violation in a page
/// walk) back to its loop. One instance is reused: nothing is allocated, and the reason is in the processor's pending state.
/// Exits caused by whole instructions (CPUID, I/O, ...) return a status instead and never throw.
/// </summary>
internal sealed class ExecutionInterrupt : Exception
{
    public static readonly ExecutionInterrupt Instance = new();

    private ExecutionInterrupt() : base("Guest execution interrupted by an exception or a VM exit.")
    {
    }
}
