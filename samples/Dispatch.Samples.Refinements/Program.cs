// A guest that exercises every handler of SampleVmm: two CPUID leaves, two I/O ports, EFER writes and reads, a MOV to CR3
// under CR3-load exiting, and a UD2 whose #UD the VMM reflects back into the guest's own IDT handler.
using Dispatch;
using Dispatch.Guests;
using Dispatch.Memory;
using Dispatch.Samples.Refinements;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

const ulong load = LongModeGuest.DefaultLoadAddress;
var a = new Assembler(64);
var invalidOpcodeHandler = a.CreateLabel();
a.mov(eax, 0x4000_0000); a.cpuid();                              // CpuidHypervisor
a.mov(eax, 1); a.cpuid();                                        // CpuidOther
a.mov(dx, (ushort)0x3F8); a.mov(al, (byte)'A'); a.@out(dx, al); // SerialData
a.@out(0x80, al);                                                // OtherPorts: the unrefined I/O handler
a.mov(ecx, 0xC000_0080); a.mov(eax, 0x500); a.xor(edx, edx);
a.wrmsr(); a.rdmsr();                                            // Efer, twice
a.mov(rbx, cr3); a.mov(cr3, rbx);                                // Cr3
a.ud2();                                                         // InvalidOpcode injects #UD; the guest handler skips it
a.hlt();                                                         // no HLT handler: Unexpected stops the vCPU
a.Label(ref invalidOpcodeHandler);
a.add(__qword_ptr[rsp], 2);                                      // return past the 2-byte UD2
a.iretq();
var code = new MemoryStream();
var assembled = a.Assemble(new StreamCodeWriter(code), load, BlockEncoderOptions.ReturnNewInstructionOffsets);

using var vm = new VirtualMachine(4 << 20);
vm.Memory.Write(new GuestPhysicalAddress(load), code.ToArray());
var vcpu = vm.CreateVCpu();
LongModeGuest.Setup(vcpu, load, new LongModeGuestOptions
{
    PrimaryControls = PrimaryProcessorControls.UnconditionalIoExiting | PrimaryProcessorControls.Cr3LoadExiting,
    ExceptionBitmap = 1u << ExceptionVector.InvalidOpcode,
});
LongModeGuest.SetInterruptGate(vm, ExceptionVector.InvalidOpcode, assembled.GetLabelRIP(invalidOpcodeHandler));

var vmm = new SampleVmm();
var result = vcpu.Run(ref vmm);
Console.WriteLine($"run ended: {result}, {vcpu.Statistics.TotalExits} exits");
return result.Outcome == RunOutcome.Stopped ? 0 : 1;
