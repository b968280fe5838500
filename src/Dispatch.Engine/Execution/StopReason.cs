namespace Dispatch.Execution;

/// <summary>Why the interpreter returned to the run loop.</summary>
internal enum StopReason : byte
{
    /// <summary>The instruction budget ran out.</summary>
    Budget,
    /// <summary>A VM exit: <see cref="Processor.Exit"/> holds its information.</summary>
    VmExit,
    /// <summary>A host request to stop (another thread asked the vCPU to stop).</summary>
    Cancelled,
    /// <summary>HLT without HLT exiting: the processor is in the HLT activity state.</summary>
    Halted,
}
