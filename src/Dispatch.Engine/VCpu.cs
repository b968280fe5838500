using Dispatch.Execution;
using Dispatch.Memory;
using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// A virtual processor in VMX non-root operation: its VMCS, the guest processor state the VMCS loads and saves, and the
/// run loop that joins them (VM entry, guest execution, VM exit, dispatch to the handler, resume).
/// </summary>
public sealed partial class VCpu
{
    internal VCpu(VirtualMachine machine, int index)
    {
        Machine = machine;
        Index = index;
        Processor = new Processor(machine.Memory);
    }

    internal Processor Processor { get; }

    public VirtualMachine Machine { get; }

    /// <summary>Position of this vCPU in <see cref="VirtualMachine.VCpus"/>.</summary>
    public int Index { get; }

    /// <summary>The VMCS this vCPU enters the guest with (the current VMCS of its logical processor).</summary>
    public Vmcs Vmcs { get; } = new();

    /// <summary>The guest's general-purpose registers (kept in the processor across exits, as on hardware).</summary>
    public ref GuestRegisters Registers => ref Processor.Gpr;

    /// <summary>Exit counts and handler latencies by reason.</summary>
    public ExitStatistics Statistics { get; } = new();

    /// <summary>Guest instructions this vCPU has retired.</summary>
    public long InstructionsRetired => Processor.InstructionsRetired;

    /// <summary>Whether VMLAUNCH has succeeded on this VMCS (its launch state is "launched"); VMCLEAR resets it.</summary>
    public bool IsLaunched { get; private set; }

    /// <summary>Asks a running <see cref="Run{THandler}(ref THandler, RunOptions?)"/> to return soon. Safe from any thread.</summary>
    public void RequestStop() => Processor.CancelRequested = true;

    /// <summary>
    /// Reads a model-specific register as the guest's processor holds it (MSRs other than those in the VMCS guest-state
    /// area live in the processor across exits, as the GPRs do). Throws for an MSR the model does not implement.
    /// </summary>
    public ulong ReadMsr(uint msr)
    {
        if (Processor.TryReadMsr(msr, out ulong value)) return value;
        throw new ArgumentOutOfRangeException(nameof(msr), $"MSR 0x{msr:X} is not implemented by the model.");
    }

    /// <summary>Writes a model-specific register of the guest's processor, with the checks WRMSR makes (e.g. canonical addresses).</summary>
    public void WriteMsr(uint msr, ulong value)
    {
        if (!Processor.TryWriteMsr(msr, value))
            throw new ArgumentException($"MSR 0x{msr:X} does not accept 0x{value:X} (WRMSR would raise #GP).", nameof(value));
    }

    /// <summary>Sets the launch state to "clear", as VMCLEAR does, so the next run uses VMLAUNCH semantics.</summary>
    public void ClearLaunchState() => IsLaunched = false;
}
