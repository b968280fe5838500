using System.Runtime.Intrinsics.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Execution.Simd;

/// <summary>What a stub runs: the rewritten instruction (registers renamed, memory moved to the scratch slot) and whether
/// the whole x87/SSE state is swapped in (x87 and MMX) or only the XMM registers the instruction names.</summary>
internal readonly record struct StubKey(Code Code, ulong Operands, byte Immediate, bool FullState);

/// <summary>
/// Runs one SSE, x87 or MMX instruction on the host processor, the way the guest would run it. Why the host and not a
/// software model: the host implements every rounding mode, DAZ/FTZ, NaN propagation, exception flag, 80-bit x87
/// arithmetic and transcendental exactly as an x86-64 processor does, which a software model would have to re-derive
/// (and get subtly wrong) instruction by instruction.
/// <para>Safety: a stub touches only its scratch context (guest memory operands are copied in and out by the
/// interpreter, after the interpreter's own translation and permission checks), runs with every SSE exception masked
/// (so no host #XM), restores the host's MXCSR and, when it swaps the x87 state in, the host's whole FXSAVE image.
/// x87 exceptions are deferred by the architecture; the interpreter raises #MF before any waiting x87 instruction that
/// would see a pending one, so the host never faults.</para>
/// <para>Stub context layout (16-byte aligned, offsets below): host XMM0-3, R8, R9, RAX, RCX, RDX, RFLAGS in and out,
/// MXCSR in and out, the host MXCSR, the memory-operand slot, the guest FXSAVE image and the host FXSAVE image.</para>
/// </summary>
internal static unsafe class HostStubs
{
    public const int XmmSlots = 0x00, R8 = 0x40, R9 = 0x48, Rax = 0x50, Rcx = 0x58, Rdx = 0x60;
    public const int FlagsIn = 0x68, FlagsOut = 0x70, MxcsrIn = 0x78, MxcsrOut = 0x7C, HostMxcsr = 0x80;
    public const int MemorySlot = 0x100, MemorySlotSize = 0x100, GuestImage = 0x200, HostImage = 0x400, ContextSize = 0x600;
    public const int MaxXmmSlots = 4;

    private static readonly Dictionary<StubKey, nint> s_stubs = [];
    private static readonly Lock s_lock = new();

    /// <summary>Whether this host can run stubs at all (x86-64, and an OS whose executable memory we can map).</summary>
    public static bool IsSupported { get; } = X86Base.X64.IsSupported && Sse2.IsSupported && ExecutableMemory.IsSupported;

    public static nint Get(in StubKey key, in Instruction hostInstruction, int xmmSlots)
    {
        lock (s_lock)
        {
            if (s_stubs.TryGetValue(key, out nint stub)) return stub;
            stub = ExecutableMemory.Place(Assemble(in hostInstruction, xmmSlots, key.FullState));
            s_stubs[key] = stub;
            return stub;
        }
    }

    private static byte[] Assemble(in Instruction instruction, int xmmSlots, bool fullState)
    {
        var a = new Assembler(64);
        a.mov(r11, OperatingSystem.IsWindows() ? rcx : rdi);
        a.stmxcsr(__dword_ptr[r11 + HostMxcsr]);
        if (fullState)
        {
            a.fxsave64(__[r11 + HostImage]);
            a.fxrstor64(__[r11 + GuestImage]);
        }
        a.ldmxcsr(__dword_ptr[r11 + MxcsrIn]);
        for (int k = 0; k < xmmSlots; k++) a.movdqu(new AssemblerRegisterXMM(Register.XMM0 + k), __xmmword_ptr[r11 + XmmSlots + 16 * k]);
        a.mov(r8, __qword_ptr[r11 + R8]);
        a.mov(r9, __qword_ptr[r11 + R9]);
        a.mov(rax, __qword_ptr[r11 + Rax]);
        a.mov(rcx, __qword_ptr[r11 + Rcx]);
        a.mov(rdx, __qword_ptr[r11 + Rdx]);
        // The guest's status flags (FCMOVcc reads them); every other host flag stays as it was.
        a.pushfq();
        a.pop(r10);
        a.and(r10, ~0x8D5);
        a.or(r10, __qword_ptr[r11 + FlagsIn]);
        a.push(r10);
        a.popfq();
        a.AddInstruction(instruction);
        a.pushfq();
        a.pop(r10);
        a.mov(__qword_ptr[r11 + FlagsOut], r10);
        a.mov(__qword_ptr[r11 + R8], r8);
        a.mov(__qword_ptr[r11 + R9], r9);
        a.mov(__qword_ptr[r11 + Rax], rax);
        a.mov(__qword_ptr[r11 + Rcx], rcx);
        a.mov(__qword_ptr[r11 + Rdx], rdx);
        for (int k = 0; k < xmmSlots; k++) a.movdqu(__xmmword_ptr[r11 + XmmSlots + 16 * k], new AssemblerRegisterXMM(Register.XMM0 + k));
        a.stmxcsr(__dword_ptr[r11 + MxcsrOut]);
        if (fullState)
        {
            a.fxsave64(__[r11 + GuestImage]);
            a.fxrstor64(__[r11 + HostImage]);
        }
        a.ldmxcsr(__dword_ptr[r11 + HostMxcsr]);
        a.ret();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        return stream.ToArray();
    }
}
