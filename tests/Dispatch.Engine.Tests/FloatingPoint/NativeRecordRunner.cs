using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// One test record: the FXSAVE image, general registers and flags going in, a memory operand area, and the same coming
/// out. The guest program and the native stub run the same record code, so their outputs must be identical.
/// </summary>
internal static class Record
{
    public const int Size = 2048, InImage = 0, Memory = 512, MemorySize = 256, GprIn = 768, GprOut = 832, OutImage = 1024;
    public static readonly AssemblerRegister64[] Gprs = [rax, rbx, rcx, rdx, r8, r9, r10];

    /// <summary>Emits: load the record at r15, run <paramref name="instruction"/>, store the outputs.</summary>
    public static void Emit(Assembler a, Instruction instruction)
    {
        a.fxrstor64(__[r15 + InImage]);
        a.lea(rsi, __[r15 + Memory]);
        for (int i = 0; i < Gprs.Length; i++) a.mov(Gprs[i], __qword_ptr[r15 + GprIn + 8 * i]);
        a.push(__qword_ptr[r15 + GprIn + 56]);
        a.popfq();
        a.AddInstruction(instruction);
        a.pushfq();
        a.pop(__qword_ptr[r15 + GprOut + 56]);
        for (int i = 0; i < Gprs.Length; i++) a.mov(__qword_ptr[r15 + GprOut + 8 * i], Gprs[i]);
        a.fxsave64(__[r15 + OutImage]);
    }
}

/// <summary>Runs record code natively: maps an Iced-assembled stub executable and calls it on a pinned record.</summary>
internal sealed unsafe class NativeRecordRunner
{
    private readonly delegate* unmanaged<byte*, void> _entry;

    public NativeRecordRunner(Instruction instruction)
    {
        var a = new Assembler(64);
        a.push(rbx);
        a.push(r15);
        a.push(r14);
        a.sub(rsp, 0x208);
        a.lea(r14, __[rsp + 8]);
        a.and(r14, -16);
        a.fxsave64(__[r14]);
        a.mov(r15, rdi);
        Record.Emit(a, instruction);
        a.fxrstor64(__[r14]);
        a.add(rsp, 0x208);
        a.pop(r14);
        a.pop(r15);
        a.pop(rbx);
        a.ret();
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), 0);
        byte[] code = ms.ToArray();
        nint p = mmap(0, (nuint)((code.Length + 4095) & ~4095), 3, 0x22, -1, 0);
        if (p == -1) throw new InvalidOperationException("mmap");
        Marshal.Copy(code, 0, p, code.Length);
        if (mprotect(p, (nuint)((code.Length + 4095) & ~4095), 5) != 0) throw new InvalidOperationException("mprotect");
        _entry = (delegate* unmanaged<byte*, void>)p;
    }

    private readonly byte* _buffer = (byte*)NativeMemory.AlignedAlloc(Record.Size, 64);

    public void Run(Span<byte> record)
    {
        record.CopyTo(new Span<byte>(_buffer, Record.Size));
        _entry(_buffer);
        new Span<byte>(_buffer, Record.Size).CopyTo(record);
    }

    [DllImport("libc")] private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);
    [DllImport("libc")] private static extern int mprotect(nint address, nuint length, int protection);
}
