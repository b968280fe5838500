using System.Buffers.Binary;

namespace Dispatch.Linux;

/// <summary>One program header of an ELF64 file (the fields the loader uses).</summary>
public readonly record struct ElfSegment(uint Type, uint Flags, ulong Offset, ulong VirtualAddress, ulong FileSize, ulong MemorySize, ulong Alignment)
{
    public const uint Load = 1, Interpreter = 3, ProgramHeaders = 6, Tls = 7;
    public const uint Execute = 1, Write = 2, Read = 4;

    public ulong End => VirtualAddress + MemorySize;
}

/// <summary>
/// A static x86-64 Linux executable, parsed and checked: ELF64, little-endian, EM_X86_64, ET_EXEC or static-pie ET_DYN, no
/// PT_INTERP, program headers and every PT_LOAD inside the file and consistent with 4 KiB pages (System V ABI, AMD64
/// supplement; the generic ELF-64 object file format).
/// </summary>
public sealed class ElfImage
{
    private const ushort EtExec = 2, EtDyn = 3, EmX86_64 = 62;
    private const int HeaderSize = 64, ProgramHeaderSize = 56;

    private ElfImage(byte[] file, bool positionIndependent, ulong entry, ulong programHeaderOffset, int programHeaderCount, ElfSegment[] segments)
    {
        File = file;
        IsPositionIndependent = positionIndependent;
        Entry = entry;
        ProgramHeaderOffset = programHeaderOffset;
        ProgramHeaderCount = programHeaderCount;
        Segments = segments;
    }

    public byte[] File { get; }

    /// <summary>ET_DYN (static-pie): loaded at a bias chosen by the loader.</summary>
    public bool IsPositionIndependent { get; }

    public ulong Entry { get; }

    public ulong ProgramHeaderOffset { get; }

    public int ProgramHeaderCount { get; }

    public static int ProgramHeaderEntrySize => ProgramHeaderSize;

    public IReadOnlyList<ElfSegment> Segments { get; }

    public IEnumerable<ElfSegment> LoadSegments => Segments.Where(s => s.Type == ElfSegment.Load);

    /// <summary>The virtual address (before relocation) of the program headers in the loaded image, or 0 when none maps them.</summary>
    public ulong ProgramHeaderAddress
    {
        get
        {
            foreach (var s in Segments)
                if (s.Type == ElfSegment.ProgramHeaders) return s.VirtualAddress;
            foreach (var s in LoadSegments)
                if (ProgramHeaderOffset >= s.Offset && ProgramHeaderOffset - s.Offset < s.FileSize)
                    return s.VirtualAddress + (ProgramHeaderOffset - s.Offset);
            return 0;
        }
    }

    public static ElfImage Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = System.IO.File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LinuxLoadException($"{path}: cannot read: {e.Message}");
        }
        return Parse(bytes, path);
    }

    public static ElfImage Parse(byte[] file, string name)
    {
        var span = file.AsSpan();
        if (span.Length < 4 || span[0] != 0x7F || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new LinuxLoadException($"{name}: not an ELF file");
        if (span.Length < 5) throw Bad(name, "truncated ELF header");
        if (span[4] == 1) throw new LinuxLoadException($"{name}: 32-bit ELF (ELFCLASS32) is not supported; only 64-bit x86-64 executables run");
        if (span[4] != 2) throw Bad(name, $"unknown ELF class {span[4]}");
        if (span.Length < HeaderSize) throw Bad(name, $"truncated ELF header ({span.Length} of {HeaderSize} bytes)");
        if (span[5] != 1) throw Bad(name, "big-endian ELF is not x86-64");
        ushort type = U16(span, 16), machine = U16(span, 18);
        if (machine != EmX86_64) throw new LinuxLoadException($"{name}: ELF machine {machine} is not x86-64 (EM_X86_64 = 62)");
        if (type != EtExec && type != EtDyn)
            throw new LinuxLoadException($"{name}: ELF type {type} is not an executable (ET_EXEC or static-pie ET_DYN)");
        ulong entry = U64(span, 24), phoff = U64(span, 32);
        ushort phentsize = U16(span, 54), phnum = U16(span, 56);
        if (phnum == 0) throw Bad(name, "no program headers");
        if (phentsize != ProgramHeaderSize) throw Bad(name, $"program header size {phentsize}, expected {ProgramHeaderSize}");
        if (phoff > (ulong)span.Length || (ulong)span.Length - phoff < (ulong)phnum * ProgramHeaderSize)
            throw Bad(name, $"truncated: program headers at 0x{phoff:X} ({phnum} x {ProgramHeaderSize} bytes) end past the file's {span.Length} bytes");

        var segments = new ElfSegment[phnum];
        for (int i = 0; i < phnum; i++)
        {
            var h = span.Slice((int)phoff + i * ProgramHeaderSize, ProgramHeaderSize);
            segments[i] = new ElfSegment(U32(h, 0), U32(h, 4), U64(h, 8), U64(h, 16), U64(h, 32), U64(h, 40), U64(h, 48));
        }
        foreach (var s in segments)
        {
            if (s.Type != ElfSegment.Interpreter) continue;
            string interpreter = s.Offset < (ulong)span.Length && s.FileSize <= (ulong)span.Length - s.Offset
                ? System.Text.Encoding.ASCII.GetString(span.Slice((int)s.Offset, (int)s.FileSize)).TrimEnd('\0')
                : "?";
            throw new LinuxLoadException($"{name}: dynamically linked executable (interpreter {interpreter}); only static executables are supported (build with gcc -static)");
        }
        bool any = false, entryMapped = false;
        foreach (var s in segments.Where(s => s.Type == ElfSegment.Load))
        {
            any = true;
            if (s.Offset > (ulong)span.Length || s.FileSize > (ulong)span.Length - s.Offset)
                throw Bad(name, $"truncated: segment at offset 0x{s.Offset:X} with 0x{s.FileSize:X} bytes ends past the file's {span.Length} bytes");
            if (s.FileSize > s.MemorySize) throw Bad(name, $"segment at 0x{s.VirtualAddress:X} has more file bytes than memory bytes");
            if (((s.VirtualAddress - s.Offset) & 0xFFF) != 0)
                throw Bad(name, $"segment at 0x{s.VirtualAddress:X} is not congruent with its file offset 0x{s.Offset:X} modulo the page size");
            if (s.End < s.VirtualAddress || s.End > 0x7FFF_0000_0000)
                throw Bad(name, $"segment at 0x{s.VirtualAddress:X} of 0x{s.MemorySize:X} bytes lies outside the user address space");
            if (entry >= s.VirtualAddress && entry < s.End && (s.Flags & ElfSegment.Execute) != 0) entryMapped = true;
        }
        if (!any) throw Bad(name, "no loadable segments");
        if (!entryMapped) throw Bad(name, $"entry point 0x{entry:X} is not in an executable segment");
        return new ElfImage(file, type == EtDyn, entry, phoff, phnum, segments);
    }

    private static LinuxLoadException Bad(string name, string what) => new($"{name}: invalid ELF: {what}");

    private static ushort U16(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt16LittleEndian(s[o..]);
    private static uint U32(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt32LittleEndian(s[o..]);
    private static ulong U64(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt64LittleEndian(s[o..]);
}
