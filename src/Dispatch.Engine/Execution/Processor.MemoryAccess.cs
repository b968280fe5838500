using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dispatch.Execution;

/// <summary>
/// Guest memory as the executing code sees it: linear addresses, translated through the software TLB on the fast path and
/// the page walk on a miss. Every access lands inside guest RAM or nowhere; the host is never touched.
/// </summary>
internal sealed unsafe partial class Processor
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong ReadMemory(ulong linear, int size)
    {
        bool user = Cpl == 3;
        var t = _tlb.Read;
        int i = SoftwareTlb.Index(linear);
        if (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Tags), i) == SoftwareTlb.Tag(linear, user) && (linear & 0xFFF) <= (ulong)(4096 - size))
        {
            byte* p = (byte*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Hosts), i) + (linear & 0xFFF);
            return size switch
            {
                1 => *p,
                2 => Unsafe.ReadUnaligned<ushort>(p),
                4 => Unsafe.ReadUnaligned<uint>(p),
                _ => Unsafe.ReadUnaligned<ulong>(p),
            };
        }
        return ReadMemorySlow(linear, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteMemory(ulong linear, int size, ulong value)
    {
        bool user = Cpl == 3;
        var t = _tlb.Write;
        int i = SoftwareTlb.Index(linear);
        if (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Tags), i) == SoftwareTlb.Tag(linear, user) && (linear & 0xFFF) <= (ulong)(4096 - size))
        {
            byte* p = (byte*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Hosts), i) + (linear & 0xFFF);
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
                case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
                default: Unsafe.WriteUnaligned(p, value); break;
            }
            return;
        }
        WriteMemorySlow(linear, size, value);
    }

    private ulong ReadMemorySlow(ulong linear, int size)
    {
        Span<byte> bytes = stackalloc byte[8];
        ReadBytes(linear, bytes[..size]);
        return Unsafe.ReadUnaligned<ulong>(ref bytes[0]) & SizeMask(size);
    }

    private void WriteMemorySlow(ulong linear, int size, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        Unsafe.WriteUnaligned(ref bytes[0], value);
        WriteBytes(linear, bytes[..size]);
    }

    /// <summary>Reads any number of bytes, crossing pages; unbacked bytes read as 0xFF.</summary>
    internal void ReadBytes(ulong linear, Span<byte> destination)
    {
        bool user = Cpl == 3;
        int done = 0;
        while (done < destination.Length)
        {
            ulong address = linear + (ulong)done;
            int chunk = Math.Min(destination.Length - done, 4096 - (int)(address & 0xFFF));
            byte* page = TranslateSlow(address, AccessKind.Read, user, out _);
            if (page == null) destination.Slice(done, chunk).Fill(0xFF);
            else new ReadOnlySpan<byte>(page + (address & 0xFFF), chunk).CopyTo(destination.Slice(done, chunk));
            done += chunk;
        }
    }

    /// <summary>
    /// Writes any number of bytes, crossing pages. Every page is translated (and may fault) before any byte is written,
    /// so a faulting write changes nothing. Writes to code pages invalidate their decoded instructions.
    /// </summary>
    internal void WriteBytes(ulong linear, ReadOnlySpan<byte> source)
    {
        bool user = Cpl == 3;
        if (source.IsEmpty) return;
        ulong lastPageStart = (linear + (ulong)source.Length - 1) & ~0xFFFUL;
        if ((linear & ~0xFFFUL) != lastPageStart) TranslateSlow(lastPageStart, AccessKind.Write, user, out _);
        int done = 0;
        while (done < source.Length)
        {
            ulong address = linear + (ulong)done;
            int chunk = Math.Min(source.Length - done, 4096 - (int)(address & 0xFFF));
            byte* page = TranslateSlow(address, AccessKind.Write, user, out ulong physicalPage);
            if (page != null)
            {
                source.Slice(done, chunk).CopyTo(new Span<byte>(page + (address & 0xFFF), chunk));
                Memory.CodePages.NotifyWrite((physicalPage << 12) | (address & 0xFFF), (ulong)chunk);
            }
            done += chunk;
        }
    }

    internal void Push(ulong value, int size = 8)
    {
        ulong rsp = Gpr.Rsp - (ulong)size;
        WriteMemory(rsp, size, value);
        Gpr.Rsp = rsp;
    }

    internal ulong Pop(int size = 8)
    {
        ulong value = ReadMemory(Gpr.Rsp, size);
        Gpr.Rsp += (ulong)size;
        return value;
    }
}
