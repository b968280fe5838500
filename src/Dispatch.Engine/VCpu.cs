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

    /// <summary>Sets the launch state to "clear", as VMCLEAR does, so the next run uses VMLAUNCH semantics.</summary>
    public void ClearLaunchState() => IsLaunched = false;
}
