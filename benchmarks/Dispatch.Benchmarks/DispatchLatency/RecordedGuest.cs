using Dispatch.Benchmarks.Infrastructure;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Benchmarks.DispatchLatency;

/// <summary>
/// A guest whose exits look like a small kernel's console and device traffic, run once to record the order of its exit
/// reasons. For every byte of a text it polls the UART line status (IN, sometimes several times) and writes the byte (OUT);
/// per word it reads the TSC (RDMSR); per sentence it writes TSC_AUX (WRMSR); per line it rings a doorbell in an MMIO page
/// (EPT violation), makes a hypercall (VMCALL), asks CPUID and reloads CR3; a question mark executes UD2 (#UD exit);
/// and the host raises a timer interrupt (external-interrupt exit) every 64 bytes. HLT at the end.
/// </summary>
public static partial class RecordedGuest
{
    private const ushort UartData = 0x3F8, UartLineStatus = 0x3FD;
    private const uint TscMsr = 0x10, TscAuxMsr = 0xC000_0103;

    public static string MakeText(int bytes)
    {
        string[] words = ["the", "guest", "writes", "a", "line", "to", "its", "console", "and", "then", "asks", "why", "exit", "costs",
            "so", "much", "time", "page", "table", "device", "interrupt", "timer", "ready", "queue"];
        var random = new Random(7);
        var text = new System.Text.StringBuilder();
        int sentence = 0, line = 0;
        while (text.Length < bytes)
        {
            text.Append(words[random.Next(words.Length)]);
            sentence++; line++;
            if (sentence > 4 + random.Next(8)) { text.Append(random.Next(6) == 0 ? '?' : '.'); sentence = 0; }
            if (line > 6 + random.Next(6)) { text.Append('\n'); line = 0; } else text.Append(' ');
        }
        return text.ToString();
    }

    /// <summary>Runs the guest over <paramref name="textBytes"/> bytes of text and returns its exit reasons in order.</summary>
    public static ExitReason[] Record(int textBytes = 4096)
    {
        var text = System.Text.Encoding.ASCII.GetBytes(MakeText(textBytes));
        var afterDoorbell = default(Label);
        var (vm, vcpu, assembled) = BenchGuest.Create(a => afterDoorbell = Emit(a, text), new BenchGuest.Options
        {
            Ept = true,
            PrimaryControls = PrimaryProcessorControls.HltExiting | PrimaryProcessorControls.UnconditionalIoExiting
                | PrimaryProcessorControls.Cr3LoadExiting,
            PinControls = PinBasedControls.ExternalInterruptExiting,
            ExitingMsrReads = [TscMsr],
            ExitingMsrWrites = [TscAuxMsr],
        });
        using (vm)
        {
            var recorder = new Recorder { AfterDoorbell = assembled.GetLabelRIP(afterDoorbell) };
            var result = vcpu.Run(ref recorder, new RunOptions { MaxInstructions = 50_000_000 });
            if (result.Outcome != RunOutcome.Stopped)
                throw new InvalidOperationException($"The recorded guest did not finish: {result}");
            return recorder.Trace.ToArray();
        }
    }

    /// <summary>Emits the guest; returns the label just after the doorbell store.</summary>
    private static Label Emit(Assembler a, byte[] text)
    {
        var afterDoorbell = a.CreateLabel();
        var data = a.CreateLabel();
        var next = a.CreateLabel();
        var poll = a.CreateLabel();
        var notSpace = a.CreateLabel();
        var notNewline = a.CreateLabel();
        var notDot = a.CreateLabel();
        var notQuestion = a.CreateLabel();

        a.lea(rsi, __[data]);
        a.mov(r9d, text.Length);
        a.mov(rdi, BenchGuest.MmioAddress);

        a.Label(ref next);
        a.mov(dx, UartLineStatus);
        a.Label(ref poll);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(poll);
        a.lodsb();
        a.mov(dx, UartData);
        a.@out(dx, al);

        a.movzx(ebx, __byte_ptr[rsi - 1]);
        a.cmp(bl, (byte)' ');
        a.jne(notSpace);
        a.mov(ecx, TscMsr);
        a.rdmsr();
        a.Label(ref notSpace);

        a.cmp(bl, (byte)'\n');
        a.jne(notNewline);
        a.mov(__dword_ptr[rdi], ebx); // doorbell
        a.Label(ref afterDoorbell);
        a.mov(eax, 1);
        a.vmcall();
        a.mov(eax, 1);
        a.cpuid();
        a.mov(rax, cr3);
        a.mov(cr3, rax);
        a.Label(ref notNewline);

        a.cmp(bl, (byte)'.');
        a.jne(notDot);
        a.mov(ecx, TscAuxMsr);
        a.xor(eax, eax);
        a.xor(edx, edx);
        a.wrmsr();
        a.Label(ref notDot);

        a.cmp(bl, (byte)'?');
        a.jne(notQuestion);
        a.ud2();
        a.Label(ref notQuestion);

        a.dec(r9d);
        a.jnz(next);
        a.hlt();

        a.Label(ref data);
        a.db(text);
        return afterDoorbell;
    }

    /// <summary>Emulates just enough for the guest to go on, and records every exit reason.</summary>
    private sealed partial class Recorder
    {
        public List<ExitReason> Trace { get; } = new(16384);
        public ulong AfterDoorbell;
        private int _polls, _bytes;

        [ExitHandler(ExitReason.IoInstruction)]
        private ExitAction Io(IoQualification io, ref GuestRegisters registers, VCpu vcpu)
        {
            Trace.Add(ExitReason.IoInstruction);
            if (io.IsOut)
            {
                if (++_bytes % 64 == 0) vcpu.RaiseExternalInterrupt(0x20);
                return ExitAction.Complete;
            }
            // Line status: "transmitter empty" two polls out of three, so the driver sometimes polls again.
            registers.Rax = (registers.Rax & ~0xFFUL) | (++_polls % 3 == 0 ? 0x00UL : 0x20UL);
            return ExitAction.Complete;
        }

        [ExitHandler(ExitReason.Rdmsr)]
        private void Rdmsr(ref GuestRegisters registers)
        {
            Trace.Add(ExitReason.Rdmsr);
            registers.Rax = (uint)Trace.Count;
            registers.Rdx = 0;
        }

        [ExitHandler(ExitReason.Wrmsr)]
        private void Wrmsr() => Trace.Add(ExitReason.Wrmsr);

        [ExitHandler(ExitReason.Cpuid)]
        private void Cpuid(ref GuestRegisters registers)
        {
            Trace.Add(ExitReason.Cpuid);
            registers.Rax = registers.Rbx = registers.Rcx = registers.Rdx = 0;
        }

        [ExitHandler(ExitReason.Vmcall)]
        private void Vmcall() => Trace.Add(ExitReason.Vmcall);

        [ExitHandler(ExitReason.CrAccess)]
        private void CrAccess(CrAccessQualification access, ref GuestRegisters registers, Vmcs vmcs)
        {
            Trace.Add(ExitReason.CrAccess);
            vmcs.Write(VmcsField.GuestCr3, registers[access.GeneralRegister]);
        }

        [ExitHandler(ExitReason.EptViolation)]
        private ExitAction Ept(Vmcs vmcs)
        {
            Trace.Add(ExitReason.EptViolation);
            vmcs.Write(VmcsField.GuestRip, AfterDoorbell); // the emulated store is done
            return ExitAction.Resume;
        }

        [ExitHandler(ExitReason.ExceptionOrNmi)]
        private ExitAction Exception(Vmcs vmcs)
        {
            Trace.Add(ExitReason.ExceptionOrNmi);
            vmcs.Write(VmcsField.GuestRip, vmcs.Read(VmcsField.GuestRip) + 2); // ud2
            return ExitAction.Resume;
        }

        [ExitHandler(ExitReason.ExternalInterrupt)]
        private void Interrupt() => Trace.Add(ExitReason.ExternalInterrupt);

        [ExitHandler(ExitReason.Hlt)]
        private static ExitAction Hlt() => ExitAction.Stop;
    }
}
