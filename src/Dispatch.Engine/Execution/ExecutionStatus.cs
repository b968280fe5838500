namespace Dispatch.Execution;

/// <summary>What one executed instruction tells the block loop.</summary>
internal enum ExecutionStatus : byte
{
    /// <summary>Go on with the next instruction of the block.</summary>
    Continue,
    /// <summary>Control went elsewhere (a taken branch, a far transfer): find the next block by RIP.</summary>
    Branched,
    /// <summary>Fell through to the next block (a not-taken branch, or state that ends the block).</summary>
    FellThrough,
    /// <summary>The instruction causes a VM exit; <see cref="Processor.Exit"/> holds it and RIP is the instruction.</summary>
    Exit,
    /// <summary>HLT ran without exiting: the processor waits for an event.</summary>
    Halted,
    /// <summary>
    /// A memory access of the instruction faulted without unwinding: a guest exception or a VM exit (EPT) is pending, as
    /// after a caught <see cref="ExecutionInterrupt"/>; the instruction did not retire.
    /// </summary>
    Faulted,
}
