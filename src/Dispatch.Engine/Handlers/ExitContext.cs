using Dispatch.Vmx;

namespace Dispatch;

/// <summary>
/// What a handler sees of one VM exit: the exit-information fields of the vCPU's VMCS (read when asked, as VMREAD would),
/// the guest's general-purpose registers, and the vCPU itself. A <c>ref struct</c>: it lives on the stack for the duration
/// of one dispatch and can never be captured or boxed.
/// </summary>
public ref struct ExitContext
{
    private readonly VCpu _vcpu;

    public ExitContext(VCpu vcpu) => _vcpu = vcpu;

    public readonly VCpu VCpu => _vcpu;

    public readonly Vmcs Vmcs => _vcpu.Vmcs;

    /// <summary>The raw VM_EXIT_REASON field (0x4402).</summary>
    public readonly uint RawExitReason => _vcpu.Vmcs.Read32(VmcsField.VmExitReason);

    /// <summary>The VM_EXIT_REASON field (0x4402) decoded.</summary>
    public readonly ExitReasonField ExitReason => new(RawExitReason);

    /// <summary>Exit qualification (0x6400).</summary>
    public readonly ulong ExitQualification => _vcpu.Vmcs.Read(VmcsField.ExitQualification);

    /// <summary>VM-exit instruction length (0x440C).</summary>
    public readonly int InstructionLength => (int)_vcpu.Vmcs.Read32(VmcsField.VmExitInstructionLength);

    /// <summary>VM-exit instruction information (0x440E).</summary>
    public readonly uint InstructionInformation => _vcpu.Vmcs.Read32(VmcsField.VmExitInstructionInformation);

    /// <summary>VM-exit interruption information (0x4404).</summary>
    public readonly InterruptionInfo InterruptionInfo => new(_vcpu.Vmcs.Read32(VmcsField.VmExitInterruptionInformation));

    /// <summary>VM-exit interruption error code (0x4406).</summary>
    public readonly uint InterruptionErrorCode => _vcpu.Vmcs.Read32(VmcsField.VmExitInterruptionErrorCode);

    /// <summary>IDT-vectoring information (0x4408): an event whose delivery the exit interrupted.</summary>
    public readonly InterruptionInfo IdtVectoringInfo => new(_vcpu.Vmcs.Read32(VmcsField.IdtVectoringInformation));

    /// <summary>Guest-linear address (0x640A), where the exit reason defines one.</summary>
    public readonly ulong GuestLinearAddress => _vcpu.Vmcs.Read(VmcsField.GuestLinearAddress);

    /// <summary>Guest-physical address (0x2400), for EPT violations and misconfigurations.</summary>
    public readonly ulong GuestPhysicalAddress => _vcpu.Vmcs.Read(VmcsField.GuestPhysicalAddress);

    /// <summary>Guest RIP as saved in the VMCS (0x681E): the exiting instruction for fault-like exits.</summary>
    public readonly ulong GuestRip => _vcpu.Vmcs.Read(VmcsField.GuestRip);

    /// <summary>The guest's general-purpose registers.</summary>
    public readonly ref GuestRegisters Registers => ref _vcpu.Registers;
}
