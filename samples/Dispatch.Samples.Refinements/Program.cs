using Dispatch;
using Dispatch.Samples.Refinements;
using Dispatch.Vmx;

// The guest engine is not wired up here: each step writes the exit information a VM exit would record into the VMCS
// and calls the generated dispatcher, as the run loop does after every exit.
var vmm = new SampleVmm();
var vcpu = new VCpu();

Exit("CPUID leaf 0x40000000", ExitReason.Cpuid, rax: 0x40000000);
Exit("CPUID leaf 0x1", ExitReason.Cpuid, rax: 0x1);
Exit("OUT 0x3F8, AL='A'", ExitReason.IoInstruction, qualification: IoQualification.Create(0x3F8, 1, isIn: false).Raw, rax: 'A');
Exit("OUT 0x80 (no handler)", ExitReason.IoInstruction, qualification: IoQualification.Create(0x80, 1, isIn: false).Raw);
Exit("WRMSR EFER", ExitReason.Wrmsr, rax: 0x500, rcx: 0xC0000080);
Exit("RDMSR EFER", ExitReason.Rdmsr, rcx: 0xC0000080);
Exit("MOV CR3, RBX", ExitReason.CrAccess, qualification: CrAccessQualification.Create(3, CrAccessType.MovToCr, gpr: 3).Raw, rbx: 0x1000);
Exit("#UD", ExitReason.ExceptionOrNmi, interruption: InterruptionInfo.HardwareException(ExceptionVector.InvalidOpcode).Raw);
ExitRaw("VM-entry failure", ExitReasonField.From(ExitReason.EntryFailureGuestState, entryFailure: true).Raw);

void Exit(string what, ExitReason reason, ulong qualification = 0, uint interruption = 0, ulong rax = 0, ulong rcx = 0, ulong rbx = 0) =>
    ExitRaw(what, (uint)reason, qualification, interruption, rax, rcx, rbx);

void ExitRaw(string what, uint rawReason, ulong qualification = 0, uint interruption = 0, ulong rax = 0, ulong rcx = 0, ulong rbx = 0)
{
    vcpu.Vmcs.Write(VmcsField.VmExitReason, rawReason);
    vcpu.Vmcs.Write(VmcsField.ExitQualification, qualification);
    vcpu.Vmcs.Write(VmcsField.VmExitInterruptionInformation, interruption);
    vcpu.Registers.Rax = rax;
    vcpu.Registers.Rcx = rcx;
    vcpu.Registers.Rbx = rbx;

    Console.WriteLine(what);
    var context = new ExitContext(vcpu);
    ExitAction action = vmm.Dispatch(ref context);
    Console.WriteLine($"  -> {action}");
}
