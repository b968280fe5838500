namespace Dispatch;

/// <summary>What the run loop does after a handler returns.</summary>
public enum ExitActionKind : byte
{
    /// <summary>
    /// The documented default (a handler returning <c>void</c>): for an exit caused by an instruction whose
    /// VM-exit instruction length is defined (CPUID, I/O, RDMSR, HLT, VMCALL, ...), the instruction counts as emulated and
    /// RIP advances past it; for any other exit (exceptions, EPT violations, interrupt windows, ...) the guest resumes at the
    /// RIP the VMCS holds.
    /// </summary>
    Complete = 0,
    /// <summary>Advance guest RIP by VM_EXIT_INSTRUCTION_LEN (0x440C), then VMRESUME.</summary>
    Advance,
    /// <summary>VMRESUME at the unchanged guest RIP (the instruction runs again or the fault is retried).</summary>
    Resume,
    /// <summary>Write the event into the VM-entry interruption-information field (0x4016) and VMRESUME, delivering it.</summary>
    Inject,
    /// <summary>Stop the vCPU; the run method returns with the guest state intact.</summary>
    Stop,
    /// <summary>No handler claimed the exit: the vCPU stops and the run result names the exit reason.</summary>
    Unhandled,
}
