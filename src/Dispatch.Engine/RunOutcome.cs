namespace Dispatch;

/// <summary>Why <see cref="VCpu.Run{THandler}(ref THandler, RunOptions?)"/> returned.</summary>
public enum RunOutcome : byte
{
    /// <summary>A handler returned <see cref="ExitAction.Stop"/>.</summary>
    Stopped,
    /// <summary>No handler claimed an exit (<see cref="ExitAction.Unhandled"/>); <see cref="RunResult.LastExit"/> names it.</summary>
    Unhandled,
    /// <summary>VMLAUNCH/VMRESUME failed: VMfailValid with <see cref="RunResult.InstructionError"/>, or VMfailInvalid.</summary>
    EntryFailed,
    /// <summary>The instruction budget or the timeout ran out; the guest state is intact and the run can continue.</summary>
    BudgetExhausted,
    /// <summary>The guest executed HLT without HLT exiting and no event can wake it.</summary>
    Halted,
    /// <summary><see cref="VCpu.RequestStop"/> was called.</summary>
    Cancelled,
    /// <summary>A handler threw; <see cref="RunResult.Exception"/> holds it and the guest state is as the exit left it.</summary>
    HandlerFailed,
    /// <summary>
    /// The engine itself failed (a defect in Dispatch, never something a guest or a VMCS may cause);
    /// <see cref="RunResult.Exception"/> holds it. The vCPU should not be run again.
    /// </summary>
    EngineFailed,
    /// <summary>
    /// A VM exit ended in a VMX abort because the VMM's VM-exit MSR areas cannot be processed (Intel SDM Vol. 3C, 28.7);
    /// <see cref="RunResult.Exception"/> is a <see cref="VmxAbortException"/> with the abort indicator, entry and MSR.
    /// As on hardware, the vCPU must not be run again until the VMM has repaired the VMCS.
    /// </summary>
    VmxAbort,
}
