using Dispatch.Vmx;

namespace Dispatch.Benchmarks.RoundTrip;

/// <summary>
/// What a small VMM does for each exit of the round-trip loops: answer CPUID from constants, take an OUT byte, answer
/// RDMSR, accept a hypercall, emulate a 32-bit MMIO store (the guest's <c>mov [rdi], eax</c>) and stop at HLT.
/// A HLT loop ends with OUT to <see cref="EndPort"/> instead.
/// </summary>
public partial struct RoundTripHandler
{
    public const int EndPort = 0xF4;

    public ulong LastOut, LastMmio, Hypercalls;
    public bool HaltStops;

    /// <summary>Guest RIP after the emulated MMIO store: where the guest resumes.</summary>
    public ulong MmioResumeRip;

    /// <summary>Whether the CPUID handler also writes the CR4 read shadow (a VMCS write on every exit).</summary>
    public bool CpuidWritesVmcs;

    [ExitHandler(ExitReason.Cpuid)]
    private readonly ExitAction Cpuid(ref ExitContext context)
    {
        ref var r = ref context.Registers;
        r.Rax = 0x0008_0F10;
        r.Rbx = 0x0102_0800;
        r.Rcx = 0x8000_0000;
        r.Rdx = 0x178B_FBFF;
        // What the guest reads for CR4.VMXE: hidden, as by a VMM that offers no nested VMX.
        if (CpuidWritesVmcs) context.Vmcs.Write(VmcsField.Cr4ReadShadow, 0);
        return ExitAction.Complete;
    }

    [ExitHandler(ExitReason.IoInstruction)]
    private void Io(ref GuestRegisters r) => LastOut = (byte)r.Rax;

    [ExitHandler(ExitReason.IoInstruction, Port = EndPort)]
    private static ExitAction End() => ExitAction.Stop;

    [ExitHandler(ExitReason.Rdmsr)]
    private static void Rdmsr(ref GuestRegisters r)
    {
        r.Rax = 0x1234_5678;
        r.Rdx = 0;
    }

    [ExitHandler(ExitReason.Vmcall)]
    private void Vmcall() => Hypercalls++;

    [ExitHandler(ExitReason.EptViolation)]
    private ExitAction Mmio(ref ExitContext context)
    {
        LastMmio = (uint)context.Registers.Rax;
        // An EPT violation defines no instruction length: the VMM, which knows the store it emulated, sets RIP past it.
        // (It sets the address rather than adding the length because the engine currently saves the RIP after the store.)
        context.Vmcs.Write(VmcsField.GuestRip, MmioResumeRip);
        return ExitAction.Resume;
    }

    [ExitHandler(ExitReason.Hlt)]
    private readonly ExitAction Hlt() => HaltStops ? ExitAction.Stop : ExitAction.Complete;

    [DefaultExitHandler]
    private static ExitAction Unexpected() => ExitAction.Unhandled;
}
