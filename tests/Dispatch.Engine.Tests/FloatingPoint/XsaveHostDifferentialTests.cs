using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Dispatch.Memory;
using Dispatch.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Dispatch.Engine.Tests.FloatingPoint;

/// <summary>
/// XSAVE, XSAVEC and XRSTOR in the engine against the host processor. The record code is the same on both sides: load a
/// state with FXRSTOR64, run the instruction on a 64-byte aligned XSAVE area with an EDX:EAX mask within x87 | SSE (so
/// the host's wider XCR0 plays no part), then store the resulting state with FXSAVE64. What is compared is what the SDM
/// defines: the state afterwards, and the area's legacy-region fields and header for the saves.
/// </summary>
public sealed unsafe class XsaveHostDifferentialTests
{
    // Record layout: input FXSAVE image, XSAVE area, output FXSAVE image, the mask in EDX:EAX.
    private const int InImage = 0x000, AreaOffset = 0x200, OutImage = 0x480, MaskOffset = 0x700, RecordSize = 0x800;
    private const int Records = 48;
    private const ulong GuestRecords = 0x20_0000;

    public static TheoryData<string> Forms => ["xsave64", "xsave", "xsavec64", "xrstor64", "xrstor"];

    private static bool HostRuns(string form) =>
        HostXsaveEnabled() && (!form.StartsWith("xsavec", StringComparison.Ordinal) || HostHasXsavec());

    private static bool HostXsaveEnabled() => (X86Base.CpuId(1, 0).Ecx & (1 << 27)) != 0;

    private static bool HostHasXsavec() => (X86Base.CpuId(0xD, 1).Eax & 2) != 0;

    private static void EmitInstruction(Assembler a, string form, AssemblerMemoryOperand area)
    {
        switch (form)
        {
            case "xsave64": a.xsave64(area); break;
            case "xsave": a.xsave(area); break;
            case "xsavec64": a.xsavec64(area); break;
            case "xrstor64": a.xrstor64(area); break;
            default: a.xrstor(area); break;
        }
    }

    /// <summary>The record code, with the record at R15 (shared by the guest and the native stub).</summary>
    private static void EmitRecord(Assembler a, string form)
    {
        a.fxrstor64(__[r15 + InImage]);
        a.mov(eax, __dword_ptr[r15 + MaskOffset]);
        a.mov(edx, __dword_ptr[r15 + MaskOffset + 4]);
        EmitInstruction(a, form, __[r15 + AreaOffset]);
        a.fxsave64(__[r15 + OutImage]);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void MatchesTheHost(string form)
    {
        if (!HostRuns(form)) return;
        var random = new Random(0x5EED + 31 * form.Length + form[^1]);
        bool restore = form.StartsWith("xrstor", StringComparison.Ordinal);
        var records = new byte[Records * RecordSize];
        for (int i = 0; i < Records; i++) FillRecord(random, records.AsSpan(i * RecordSize, RecordSize), restore);

        var native = (byte[])records.Clone();
        RunNative(form, native);
        var guest = RunGuest(form, records);

        for (int i = 0; i < Records; i++)
        {
            var g = guest.AsSpan(i * RecordSize, RecordSize);
            var n = native.AsSpan(i * RecordSize, RecordSize);
            string where = $"{form} record {i}, mask {BinaryPrimitives.ReadUInt32LittleEndian(g[MaskOffset..])}";
            // Two implementation-specific fields are left out: FOP/FIP/FDP (bytes 23:6; some processors save them only
            // while an x87 exception is pending) and MXCSR_MASK (bytes 31:28; the engine's is FFFFH, a host may have more).
            var go = g[OutImage..]; var no = n[OutImage..];
            AssertSame(no[..6], go[..6], where + ", x87 words afterwards");
            AssertSame(no[24..28], go[24..28], where + ", MXCSR afterwards");
            AssertSame(no[32..416], go[32..416], where + ", registers afterwards");
            if (restore) continue;
            var ga = g[AreaOffset..]; var na = n[AreaOffset..];
            AssertSame(na[..6], ga[..6], where + ", area x87 words");
            AssertSame(na[24..28], ga[24..28], where + ", area MXCSR");
            AssertSame(na[32..416], ga[32..416], where + ", area registers");
            AssertSame(na[464..576], ga[464..576], where + ", area bytes 575:464 (header)");
        }
    }

    private static void AssertSame(ReadOnlySpan<byte> host, ReadOnlySpan<byte> engine, string where)
    {
        if (host.SequenceEqual(engine)) return;
        Assert.Fail($"{where}: host {Convert.ToHexString(host)} engine {Convert.ToHexString(engine)}");
    }

    /// <summary>
    /// A state the host can load (no pending x87 exception, every SIMD exception masked) with random x87 pointers; a
    /// mask within x87 | SSE; for XRSTOR a valid area in the standard or compacted form with random XSTATE_BV, for the
    /// saves an area of random bytes (whatever the save leaves alone must be left alone on both sides).
    /// </summary>
    private static void FillRecord(Random r, Span<byte> record, bool restore)
    {
        var state = new byte[Record.Size];
        RecordInputs.Fill(r, state);
        state.AsSpan(0, 512).CopyTo(record[InImage..]);
        BinaryPrimitives.WriteUInt16LittleEndian(record[(InImage + 6)..], (ushort)r.Next(0x800));
        BinaryPrimitives.WriteUInt64LittleEndian(record[(InImage + 8)..], (ulong)r.NextInt64(1L << 47));
        BinaryPrimitives.WriteUInt64LittleEndian(record[(InImage + 16)..], (ulong)r.NextInt64(1L << 47));
        uint mask = (uint)r.Next(4);
        BinaryPrimitives.WriteUInt32LittleEndian(record[MaskOffset..], mask);

        var area = record.Slice(AreaOffset, 576);
        if (!restore)
        {
            r.NextBytes(area);
            return;
        }
        RecordInputs.Fill(r, state);
        area.Clear();
        state.AsSpan(0, 416).CopyTo(area);
        BinaryPrimitives.WriteUInt16LittleEndian(area[6..], (ushort)r.Next(0x800));
        BinaryPrimitives.WriteUInt64LittleEndian(area[8..], (ulong)r.NextInt64(1L << 47));
        BinaryPrimitives.WriteUInt64LittleEndian(area[16..], (ulong)r.NextInt64(1L << 47));
        ulong xstateBv = (ulong)r.Next(4);
        BinaryPrimitives.WriteUInt64LittleEndian(area[512..], xstateBv);
        if (r.Next(2) == 0)
            BinaryPrimitives.WriteUInt64LittleEndian(area[520..], (1UL << 63) | xstateBv | (uint)r.Next(4));
    }

    private static byte[] RunGuest(string form, byte[] records)
    {
        var (vm, vcpu) = TestGuest.Create(a =>
        {
            a.mov(rax, cr4);
            a.or(rax, 1 << 18);
            a.mov(cr4, rax);
            a.xor(ecx, ecx);
            a.mov(eax, 3);
            a.xor(edx, edx);
            a.xsetbv();
            a.mov(r15, GuestRecords);
            a.mov(r14d, Records);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            EmitRecord(a, form);
            a.add(r15, RecordSize);
            a.dec(r14d);
            a.jnz(loop);
            a.hlt();
        });
        using (vm)
        {
            vm.Memory.Write(new GuestPhysicalAddress(GuestRecords), records);
            var handler = new XsetbvHandler();
            vcpu.Run(ref handler);
            Assert.True(handler.Reasons[^1] == ExitReason.Hlt, $"{form}: stopped by {handler.Reasons[^1]} (vector {handler.ExceptionVector})");
            var result = new byte[records.Length];
            vm.Memory.Read(new GuestPhysicalAddress(GuestRecords), result);
            return result;
        }
    }

    private static void RunNative(string form, byte[] records)
    {
        var a = new Assembler(64);
        a.push(r15);
        a.push(r14);
        a.sub(rsp, 0x218);
        a.lea(r14, __[rsp + 8]);
        a.and(r14, -16);
        a.fxsave64(__[r14]);        // the host's own x87/SSE state, restored below
        a.mov(r15, rdi);
        EmitRecord(a, form);
        a.fxrstor64(__[r14]);
        a.add(rsp, 0x218);
        a.pop(r14);
        a.pop(r15);
        a.ret();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        byte[] code = stream.ToArray();
        nuint length = (nuint)((code.Length + 4095) & ~4095);
        nint page = mmap(0, length, 3, 0x22, -1, 0);
        Assert.NotEqual(-1, page);
        byte* buffer = (byte*)NativeMemory.AlignedAlloc(RecordSize, 64);
        try
        {
            Marshal.Copy(code, 0, page, code.Length);
            Assert.Equal(0, mprotect(page, length, 5));
            var entry = (delegate* unmanaged<byte*, void>)page;
            for (int i = 0; i < Records; i++)
            {
                var record = records.AsSpan(i * RecordSize, RecordSize);
                record.CopyTo(new Span<byte>(buffer, RecordSize));
                entry(buffer);
                new Span<byte>(buffer, RecordSize).CopyTo(record);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
            munmap(page, length);
        }
    }

    [DllImport("libc")] private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);
    [DllImport("libc")] private static extern int mprotect(nint address, nuint length, int protection);
    [DllImport("libc")] private static extern int munmap(nint address, nuint length);
}
