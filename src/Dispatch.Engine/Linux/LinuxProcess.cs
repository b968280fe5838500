using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Dispatch.Guests;
using Dispatch.Linux.Threads;
using Dispatch.Vmx;
using Iced.Intel;

namespace Dispatch.Linux;

/// <summary>
/// A static x86-64 Linux executable running in a virtual machine of its own, at CPL 3 in its own address space.
/// <para>
/// System calls reach the VMM through VM exits, the way the architecture allows: EFER.SCE is set and IA32_LSTAR points to
/// a supervisor-only page holding <c>vmcall; sysretq</c>. The guest's SYSCALL switches to CPL 0 and jumps there (RCX = return
/// RIP, R11 = RFLAGS), VMCALL exits unconditionally, the exit handler performs the call from the registers and writes RAX,
/// completing the VMCALL advances RIP to SYSRETQ, and SYSRETQ returns to user code. Every exception exits (exception
/// bitmap all ones): #PF drives demand paging, anything else the process does not survive.
/// </para>
/// </summary>
public sealed partial class LinuxProcess : IDisposable
{
    /// <summary>Where the system-call entry stub lives: a supervisor page at the bottom of the kernel half.</summary>
    public const ulong SyscallStubAddress = 0xFFFF_8000_0000_0000;
    private static readonly byte[] SyscallStub = [0x0F, 0x01, 0xC1, 0x48, 0x0F, 0x07]; // vmcall; sysretq
    private const long RtSigreturn = 15;
    // The GDT and TSS page, then the IDT page, as the process's page tables map them (after the system-call stub).
    private const ulong DescriptorTablesAddress = SyscallStubAddress + 0x1000;
    private const ulong VmmMemory = 1UL << 20; // GDT, TSS, IDT area and the unused identity map
    private const ulong PositionIndependentBase = 0x5555_5555_4000;
    private const ulong StackTop = AddressSpace.UserTop;

    private readonly LinuxProcessOptions _options;

    private LinuxProcess(LinuxProcessOptions options, ElfImage image)
    {
        _options = options;
        Image = image;
        Machine = new VirtualMachine(32UL << 20);
        try
        {
            VCpu = Machine.CreateVCpu();
            Memory = new AddressSpace(Machine.Memory, VmmMemory, options.MemoryLimit);
            ulong bias = image.IsPositionIndependent ? PositionIndependentBase : 0;
            ulong brk = LoadSegments(bias);
            Kernel = new LinuxKernel(Memory, options, brk, this);
            CreateMainThread();
            OpenStandardStreams();
            ulong sp = BuildInitialStack(bias);
            Memory.MapKernelPage(SyscallStubAddress, SyscallStub);
            SetUpUserVCpu(VCpu, image.Entry + bias, sp);
        }
        catch
        {
            Machine.Dispose();
            throw;
        }
    }

    /// <summary>Loads the program and prepares its first instruction. Throws <see cref="LinuxLoadException"/> for an unusable file.</summary>
    public static LinuxProcess Start(LinuxProcessOptions options)
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            throw new LinuxLoadException("Linux guests need an x86-64 Linux host: their files and descriptors are the host's.");
        if (!File.Exists(options.ProgramPath)) throw new LinuxLoadException($"{options.ProgramPath}: no such file");
        var image = ElfImage.Load(options.ProgramPath);
        try
        {
            return new LinuxProcess(options with { ProgramPath = Path.GetFullPath(options.ProgramPath) }, image);
        }
        catch (Exception e) when (e is not LinuxLoadException)
        {
            // The headers passed the image's checks but still describe something that cannot be built (sizes that no
            // memory holds, layouts that overflow): the file is unusable, which is a load error, not a crash.
            throw new LinuxLoadException($"{Path.GetFileName(options.ProgramPath)}: cannot load: {e.Message}");
        }
    }

    public ElfImage Image { get; }
    public VirtualMachine Machine { get; }

    /// <summary>The first thread's vCPU (threads the program creates have vCPUs of their own in <see cref="Machine"/>).</summary>
    public VCpu VCpu { get; }
    public AddressSpace Memory { get; }
    public LinuxKernel Kernel { get; }

    /// <summary>The exit status once the process has ended (exit_group, or 128 + signal for a fatal fault).</summary>
    public int? ExitStatus { get; private set; }

    /// <summary>Why the process ended abnormally, for the user.</summary>
    public string? Failure { get; private set; }

    // Segments sharing a page are copied aside while the page is remapped; real linkers only ever share one page or two.
    private const ulong MaxSharedSegmentSpan = 64UL << 20;

    private ulong LoadSegments(ulong bias)
    {
        ulong highest = 0;
        string name = Path.GetFileName(_options.ProgramPath);
        foreach (var s in Image.LoadSegments)
        {
            ulong start = AddressSpace.PageDown(s.VirtualAddress + bias), end = AddressSpace.PageUp(s.End + bias);
            // The image checked its segments without the load bias; a segment must also fit the process's memory limit
            // (mapping walks every page of what it replaces).
            if (end < start || end > AddressSpace.UserTop)
                throw new LinuxLoadException($"{name}: invalid ELF: segment at 0x{s.VirtualAddress:X} of 0x{s.MemorySize:X} bytes lies outside the user address space");
            if (end - start > _options.MemoryLimit)
                throw new LinuxLoadException($"{name}: segment at 0x{s.VirtualAddress:X} of 0x{s.MemorySize:X} bytes exceeds the memory limit of {_options.MemoryLimit >> 20} MiB");
            var protection = ((s.Flags & ElfSegment.Read) != 0 ? Protection.Read : 0)
                | ((s.Flags & ElfSegment.Write) != 0 ? Protection.Write : 0)
                | ((s.Flags & ElfSegment.Execute) != 0 ? Protection.Execute : 0);
            // Segments that share a page (rare with modern linkers) share it with the union of their permissions.
            var shared = Memory.Areas.Where(a => a.Start < end && start < a.End).ToList();
            foreach (var a in shared)
            {
                protection |= a.Protection;
                start = Math.Min(start, a.Start);
            }
            if (shared.Count > 0 && end - start > MaxSharedSegmentSpan)
                throw new LinuxLoadException($"{name}: invalid ELF: overlapping segments span 0x{end - start:X} bytes");
            byte[] keep = shared.Count == 0 ? [] : new byte[end - start];
            Memory.TryReadForLoader(start, keep);
            Memory.Map(start, end, protection, name);
            if (shared.Count > 0) Memory.Fill(start, keep);
            Memory.Fill(s.VirtualAddress + bias, Image.File.AsSpan((int)s.Offset, (int)s.FileSize));
            highest = Math.Max(highest, end);
        }
        return highest;
    }

    private void OpenStandardStreams()
    {
        Stream?[] streams = [_options.StandardInput, _options.StandardOutput, _options.StandardError];
        for (int fd = 0; fd < 3; fd++)
        {
            OpenFile? file = streams[fd] is { } s ? OpenFile.ForStream(s, $"std{fd}") : OpenFile.ForHost(fd, $"std{fd}").Duplicate();
            if (file is not null) Kernel.Files.Set(fd, file);
        }
    }

    // Auxiliary vector types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
    private const ulong AtNull = 0, AtPhdr = 3, AtPhent = 4, AtPhnum = 5, AtPagesz = 6, AtBase = 7, AtFlags = 8, AtEntry = 9,
        AtUid = 11, AtEuid = 12, AtGid = 13, AtEgid = 14, AtPlatform = 15, AtHwcap = 16, AtClktck = 17, AtSecure = 23,
        AtRandom = 25, AtHwcap2 = 26, AtExecfn = 31;

    /// <summary>
    /// The System V AMD64 initial process stack: argc, argv[], NULL, envp[], NULL, auxv pairs ending in AT_NULL, with the
    /// strings and AT_RANDOM's 16 bytes above; RSP (pointing at argc) 16-byte aligned.
    /// </summary>
    private ulong BuildInitialStack(ulong bias)
    {
        Memory.Map(StackTop - _options.StackSize, StackTop, Protection.Read | Protection.Write, "[stack]");
        ulong sp = StackTop;
        ulong PushBytes(ReadOnlySpan<byte> bytes)
        {
            sp -= (ulong)bytes.Length;
            Memory.Fill(sp, bytes);
            return sp;
        }
        ulong PushString(string s) => PushBytes(Encoding.UTF8.GetBytes(s + "\0"));

        ulong execfn = PushString(_options.ProgramPath);
        var environment = _options.Environment ?? HostEnvironment();
        var envPointers = environment.Select(PushString).ToList();
        var argPointers = _options.Arguments.Select(PushString).ToList();
        ulong platform = PushString("x86_64");
        ulong random = PushBytes(RandomNumberGenerator.GetBytes(16));
        sp &= ~15UL;

        var cpuid = CpuidModel.Default.Query(1);
        ulong phdr = Image.ProgramHeaderAddress + bias;
        var auxv = new List<(ulong, ulong)>
        {
            (AtPhdr, phdr), (AtPhent, (ulong)ElfImage.ProgramHeaderEntrySize), (AtPhnum, (ulong)Image.ProgramHeaderCount),
            (AtPagesz, AddressSpace.PageSize), (AtBase, 0), (AtFlags, 0), (AtEntry, Image.Entry + bias),
            (AtUid, HostLibc.getuid()), (AtEuid, HostLibc.geteuid()), (AtGid, HostLibc.getgid()), (AtEgid, HostLibc.getegid()),
            (AtPlatform, platform), (AtHwcap, cpuid.Edx), (AtClktck, 100), (AtSecure, 0), (AtRandom, random), (AtHwcap2, 0),
            (AtExecfn, execfn), (AtNull, 0),
        };
        var words = new List<ulong> { (ulong)argPointers.Count };
        words.AddRange(argPointers);
        words.Add(0);
        words.AddRange(envPointers);
        words.Add(0);
        foreach (var (k, v) in auxv)
        {
            words.Add(k);
            words.Add(v);
        }
        if (words.Count % 2 != 0) sp -= 8;
        var block = new byte[words.Count * 8];
        for (int i = 0; i < words.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(i * 8), words[i]);
        return PushBytes(block);
    }

    private static List<string> HostEnvironment()
    {
        var list = new List<string>();
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            list.Add($"{e.Key}={e.Value}");
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    /// <summary>A vCPU of the process (the first, or a new thread's) about to enter user code at <paramref name="entry"/>.</summary>
    private void SetUpUserVCpu(VCpu vcpu, ulong entry, ulong sp)
    {
        LongModeGuest.Setup(vcpu, entry, new LongModeGuestOptions
        {
            Cpl = 3,
            EnableSyscall = true,
            StackPointer = sp,
            IdentityMapSize = 2UL << 20,
            ExceptionBitmap = 0xFFFF_FFFF,
        });
        // The process's own address space replaces the identity map; the descriptor tables stay reachable through it,
        // supervisor-only in the kernel half, for segment loads, the TSS's I/O permission bitmap and INT n.
        vcpu.Vmcs.Write(VmcsField.GuestCr3, Memory.Root);
        if (!_descriptorTablesMapped)
        {
            Memory.MapSupervisorFrame(DescriptorTablesAddress, LongModeGuest.GdtAddress & ~0xFFFUL);
            Memory.MapSupervisorFrame(DescriptorTablesAddress + 0x1000, LongModeGuest.IdtAddress & ~0xFFFUL);
            _descriptorTablesMapped = true;
        }
        vcpu.Vmcs.Write(VmcsField.GuestGdtrBase, DescriptorTablesAddress + (LongModeGuest.GdtAddress & 0xFFF));
        vcpu.Vmcs.Write(VmcsField.GuestTrBase, DescriptorTablesAddress + (LongModeGuest.TssAddress & 0xFFF));
        vcpu.Vmcs.Write(VmcsField.GuestIdtrBase, DescriptorTablesAddress + 0x1000 + (LongModeGuest.IdtAddress & 0xFFF));
        vcpu.Vmcs.Write(VmcsField.GuestRflags, 0x202);
        vcpu.WriteMsr(Msr.Ia32Lstar, SyscallStubAddress);
        vcpu.WriteMsr(Msr.Ia32Fmask, 0x4_7700); // TF, DF, IF, IOPL, NT, AC cleared on entry, as Linux does
        EnableXsave(vcpu);
    }

    private bool _descriptorTablesMapped;

    /// <summary>
    /// What Linux does at boot on a processor that reports XSAVE: sets CR4.OSXSAVE (so CPUID reports OSXSAVE and the
    /// C library may use XGETBV) and enables every user state component CPUID.(EAX=0DH,ECX=0) reports in XCR0.
    /// </summary>
    private static void EnableXsave(VCpu vcpu)
    {
        var model = CpuidModel.Default;
        if ((model.Query(1).Ecx & (1u << 26)) == 0) return;
        vcpu.Vmcs.Write(VmcsField.GuestCr4, vcpu.Vmcs.Read(VmcsField.GuestCr4) | ControlRegisters.Cr4OSXSAVE);
        vcpu.Vmcs.Write(VmcsField.Cr4ReadShadow, vcpu.Vmcs.Read(VmcsField.Cr4ReadShadow) | ControlRegisters.Cr4OSXSAVE);
        var components = model.Query(0xD, 0);
        if (!vcpu.TrySetXcr0(components.Eax | ((ulong)components.Edx << 32)))
            throw new InvalidOperationException("CPUID leaf 0DH reports an XCR0 value XSETBV would refuse.");
    }

    /// <summary>
    /// The VMCALL exit of the system-call stub: performs the call and completes the VMCALL, or stops the vCPU when the
    /// process has ended. A VMCALL anywhere else is the guest's own and is fatal (SIGILL).
    /// </summary>
    public ExitAction SystemCall(ref ExitContext context)
    {
        if (context.GuestRip != SyscallStubAddress)
            return Terminate(132, $"illegal instruction at 0x{context.GuestRip:x}: vmcall from user code");
        ref var r = ref context.Registers;
        if (r.Rax == RtSigreturn) return Continue(ref context, SignalReturn(ref context));
        long result;
        try
        {
            result = Kernel.Invoke((long)r.Rax, r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9);
        }
        catch (ProcessEndingException)
        {
            return ExitAction.Stop; // another thread ended the process while this one waited
        }
        if (IsEnding) return ExitAction.Stop;
        if (_current.ExitCode is not null) return ExitAction.Stop; // exit(2) of one thread among several
        r.Rax = (ulong)result;
        if (Kernel.PendingFsBase is { } fs)
        {
            context.Vmcs.Write(VmcsField.GuestFsBase, fs);
            Kernel.PendingFsBase = null;
        }
        var delivered = DeliverPendingAfterSystemCall(ref context);
        if (Kernel.ExitStatus is { } status)
        {
            ExitStatus = status;
            Failure = Kernel.TerminationMessage;
            return ExitAction.Stop;
        }
        return Continue(ref context, delivered ?? ExitAction.Complete);
    }

    /// <summary>
    /// An exception exit: a #PF an area allows is demand paging (back the page, retry the instruction); a fault whose
    /// signal the process handles enters its handler; anything else ends the process as Linux would with the matching
    /// signal, with a message that names the instruction.
    /// </summary>
    public ExitAction Exception(ref ExitContext context, InterruptionInfo info)
    {
        ulong rip = context.GuestRip;
        if (info.Vector == ExceptionVector.PageFault && (context.InterruptionErrorCode & 4) != 0
            && Memory.TryHandleFault(context.ExitQualification, context.InterruptionErrorCode))
            return Continue(ref context, ExitAction.Resume);
        if (TryDeliverFault(ref context, info, out var delivered)) return Continue(ref context, delivered);
        switch (info.Vector)
        {
            case ExceptionVector.PageFault:
            {
                ulong address = context.ExitQualification;
                uint error = context.InterruptionErrorCode;
                string access = (error & 16) != 0 ? "execute" : (error & 2) != 0 ? "write" : "read";
                return Terminate(139, $"segmentation fault: {access} at 0x{address:x} ({((error & 1) != 0 ? "protection" : "not mapped")}), {Describe(rip)}");
            }
            case ExceptionVector.InvalidOpcode:
                return Terminate(132, $"illegal instruction (#UD), {Describe(rip)}");
            case ExceptionVector.DivideError:
                return Terminate(136, $"floating point exception (#DE divide error), {Describe(rip)}");
            case ExceptionVector.Breakpoint:
                return Terminate(133, $"trace/breakpoint trap (#BP), {Describe(rip)}");
            case ExceptionVector.GeneralProtection: case ExceptionVector.StackFault:
                return Terminate(139, $"segmentation fault (#{(info.Vector == 13 ? "GP" : "SS")}, error code 0x{context.InterruptionErrorCode:x}), {Describe(rip)}");
            default:
                return Terminate(139, $"exception vector {info.Vector}, {Describe(rip)}");
        }
    }

    /// <summary>Ends the process with <paramref name="status"/> (128 + signal) and a message.</summary>
    public ExitAction Terminate(int status, string message)
    {
        ExitStatus = status;
        Failure = message;
        return ExitAction.Stop;
    }

    /// <summary>"at 0x401000: movdqu xmm0,[rsi]": the instruction at <paramref name="rip"/>, decoded from guest memory.</summary>
    public string Describe(ulong rip)
    {
        var bytes = new byte[15];
        int n = 0;
        for (; n < bytes.Length; n++)
            if (!Memory.TryRead(rip + (ulong)n, bytes.AsSpan(n, 1))) break;
        if (n == 0) return $"at 0x{rip:x} (unreadable)";
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(bytes, 0, n), rip);
        decoder.Decode(out var instruction);
        if (instruction.IsInvalid) return $"at 0x{rip:x}: undecodable bytes {Convert.ToHexString(bytes, 0, n)}";
        var output = new StringOutput();
        new NasmFormatter().Format(instruction, output);
        return $"at 0x{rip:x}: {output} ({Convert.ToHexString(bytes, 0, instruction.Length).ToLowerInvariant()})";
    }

    /// <summary>Flushes the guest's standard streams and closes its descriptors.</summary>
    public void Dispose()
    {
        Kernel?.Files.CloseAll();
        Kernel?.CloseWorkingDirectory();
        Machine.Dispose();
    }
}
