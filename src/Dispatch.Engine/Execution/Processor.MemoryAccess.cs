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
        byte* p = CachedHost(_tlb.Read, linear, size);
        return p != null ? LoadHost(p, size) : ReadMemorySlow(linear, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteMemory(ulong linear, int size, ulong value)
    {
        byte* p = CachedHost(_tlb.Write, linear, size);
        if (p != null) StoreHost(p, size, value);
        else WriteMemorySlow(linear, size, value);
    }

    private ulong ReadMemorySlow(ulong linear, int size)
    {
        if (!TryReadMemorySlow(linear, size, out ulong value)) throw ExecutionInterrupt.Instance;
        return value;
    }

    private void WriteMemorySlow(ulong linear, int size, ulong value)
    {
        if (!TryWriteMemorySlow(linear, size, value)) throw ExecutionInterrupt.Instance;
    }

    /// <summary>
    /// <see cref="ReadMemory"/> that reports a fault by returning false instead of unwinding (the fault is recorded as a
    /// pending exception or VM exit, see <see cref="TryTranslate"/>). For the block loop's own loads and stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryReadMemory(ulong linear, int size, out ulong value)
    {
        byte* p = CachedHost(_tlb.Read, linear, size);
        if (p != null)
        {
            value = LoadHost(p, size);
            return true;
        }
        return TryReadMemorySlow(linear, size, out value);
    }

    /// <summary><see cref="WriteMemory"/> that reports a fault by returning false (nothing is written then).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryWriteMemory(ulong linear, int size, ulong value)
    {
        byte* p = CachedHost(_tlb.Write, linear, size);
        if (p == null) return TryWriteMemorySlow(linear, size, value);
        StoreHost(p, size, value);
        return true;
    }

    /// <summary>
    /// The host address of [linear, linear + size) when the software TLB maps its page for this access and privilege and
    /// the access does not cross into the next page; null otherwise (the caller takes the page walk).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* CachedHost(SoftwareTlb.Table t, ulong linear, int size)
    {
        int i = SoftwareTlb.Index(linear);
        if (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Tags), i) != SoftwareTlb.Tag(linear, Cpl == 3)
            || (linear & 0xFFF) > (ulong)(4096 - size))
            return null;
        return (byte*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(t.Hosts), i) + (linear & 0xFFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LoadHost(byte* p, int size) => size switch
    {
        1 => *p,
        2 => Unsafe.ReadUnaligned<ushort>(p),
        4 => Unsafe.ReadUnaligned<uint>(p),
        _ => Unsafe.ReadUnaligned<ulong>(p),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreHost(byte* p, int size, ulong value)
    {
        switch (size)
        {
            case 1: *p = (byte)value; break;
            case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
            case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
            default: Unsafe.WriteUnaligned(p, value); break;
        }
    }

    private bool TryReadMemorySlow(ulong linear, int size, out ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        bool ok = TryReadBytes(linear, bytes[..size]);
        value = Unsafe.ReadUnaligned<ulong>(ref bytes[0]) & SizeMask(size);
        return ok;
    }

    private bool TryWriteMemorySlow(ulong linear, int size, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        Unsafe.WriteUnaligned(ref bytes[0], value);
        return TryWriteBytes(linear, bytes[..size]);
    }

    /// <summary>Reads any number of bytes, crossing pages; unbacked bytes read as 0xFF.</summary>
    internal void ReadBytes(ulong linear, Span<byte> destination)
    {
        if (!TryReadBytes(linear, destination)) throw ExecutionInterrupt.Instance;
    }

    /// <summary>As <see cref="ReadBytes"/>; returns false (with the fault recorded) instead of unwinding.</summary>
    private bool TryReadBytes(ulong linear, Span<byte> destination)
    {
        bool user = Cpl == 3;
        int done = 0;
        while (done < destination.Length)
        {
            ulong address = linear + (ulong)done;
            int chunk = Math.Min(destination.Length - done, 4096 - (int)(address & 0xFFF));
            if (!TryTranslate(address, AccessKind.Read, user, out byte* page, out _)) return false;
            if (page == null) destination.Slice(done, chunk).Fill(0xFF);
            else new ReadOnlySpan<byte>(page + (address & 0xFFF), chunk).CopyTo(destination.Slice(done, chunk));
            done += chunk;
        }
        return true;
    }

    /// <summary>
    /// Writes any number of bytes, crossing pages. Every page is translated (and may fault) before any byte is written,
    /// so a faulting write changes nothing. Writes to code pages invalidate their decoded instructions.
    /// </summary>
    internal void WriteBytes(ulong linear, ReadOnlySpan<byte> source)
    {
        if (!TryWriteBytes(linear, source)) throw ExecutionInterrupt.Instance;
    }

    /// <summary>As <see cref="WriteBytes"/>; returns false (with the fault recorded, nothing written) instead of unwinding.</summary>
    private bool TryWriteBytes(ulong linear, ReadOnlySpan<byte> source)
    {
        bool user = Cpl == 3;
        if (source.IsEmpty) return true;
        ulong lastPageStart = (linear + (ulong)source.Length - 1) & ~0xFFFUL;
        if ((linear & ~0xFFFUL) != lastPageStart && !TryTranslate(lastPageStart, AccessKind.Write, user, out _, out _)) return false;
        int done = 0;
        while (done < source.Length)
        {
            ulong address = linear + (ulong)done;
            int chunk = Math.Min(source.Length - done, 4096 - (int)(address & 0xFFF));
            if (!TryTranslate(address, AccessKind.Write, user, out byte* page, out ulong physicalPage)) return false;
            if (page != null)
            {
                source.Slice(done, chunk).CopyTo(new Span<byte>(page + (address & 0xFFF), chunk));
                Memory.CodePages.NotifyWrite((physicalPage << 12) | (address & 0xFFF), (ulong)chunk);
            }
            done += chunk;
        }
        return true;
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
