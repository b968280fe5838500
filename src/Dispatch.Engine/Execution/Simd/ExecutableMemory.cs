using System.Runtime.InteropServices;

namespace Dispatch.Execution.Simd;

/// <summary>
/// Host memory for the small native stubs of <see cref="HostStubs"/>. No page is ever writable and executable at once,
/// and a page that holds a stub is never made non-executable again: another thread may be running that stub at any
/// moment (vCPUs run on their own threads), and flipping its page to read-write, even briefly, would fault the host.
/// <para>On Linux the chunk is one memory file mapped twice: stubs are written through a read-write view and run through
/// a read-execute view of the same pages, so many stubs share a page. Where that is not available (macOS, or a sandbox
/// that refuses memfd_create) each stub gets pages of its own, flipped to read-execute once, after it is written.</para>
/// Only Linux and macOS on x86-64 are supported.
/// </summary>
internal static unsafe class ExecutableMemory
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapShared = 0x01, MapPrivate = 0x02;
    private const int PageSize = 4096, ChunkSize = 256 * 1024;

    private static byte* s_writable, s_executable;
    private static int s_used = ChunkSize;
    private static bool? s_dualMapping;

    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS();

    /// <summary>Copies <paramref name="code"/> into executable memory; callers serialise (the stub cache holds a lock).</summary>
    public static nint Place(ReadOnlySpan<byte> code)
    {
        if (code.Length is 0 or > ChunkSize) throw new ArgumentException("A stub is 1 byte to 256 KiB long.", nameof(code));
        s_dualMapping ??= OperatingSystem.IsLinux() && TryMapDualChunk();
        return s_dualMapping.Value ? PlaceShared(code) : PlaceOnOwnPages(code);
    }

    private static nint PlaceShared(ReadOnlySpan<byte> code)
    {
        int size = (code.Length + 15) & ~15;
        if (s_used + size > ChunkSize && !TryMapDualChunk()) return PlaceOnOwnPages(code);
        // Bytes no thread has executed yet; they become reachable only once the caller publishes the address.
        code.CopyTo(new Span<byte>(s_writable + s_used, code.Length));
        nint stub = (nint)(s_executable + s_used);
        s_used += size;
        return stub;
    }

    private static bool TryMapDualChunk()
    {
        int fd;
        try
        {
            fd = memfd_create("dispatch-stubs", 1 /* MFD_CLOEXEC */);
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        if (fd < 0) return false;
        try
        {
            if (ftruncate(fd, ChunkSize) != 0) return false;
            nint writable = mmap(0, ChunkSize, ProtRead | ProtWrite, MapShared, fd, 0);
            if (writable is -1 or 0) return false;
            nint executable = mmap(0, ChunkSize, ProtRead | ProtExec, MapShared, fd, 0);
            if (executable is -1 or 0)
            {
                munmap(writable, ChunkSize);
                return false;
            }
            s_writable = (byte*)writable;
            s_executable = (byte*)executable;
            s_used = 0;
            return true;
        }
        finally
        {
            close(fd);
        }
    }

    internal static nint PlaceOnOwnPages(ReadOnlySpan<byte> code)
    {
        int size = (code.Length + PageSize - 1) & ~(PageSize - 1);
        int anonymous = OperatingSystem.IsMacOS() ? 0x1000 : 0x20;
        nint p = mmap(0, (nuint)size, ProtRead | ProtWrite, MapPrivate | anonymous, -1, 0);
        if (p is -1 or 0) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        code.CopyTo(new Span<byte>((void*)p, code.Length));
        if (mprotect(p, (nuint)size, ProtRead | ProtExec) != 0)
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
        return p;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(nint address, nuint length);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(nint address, nuint length, int protection);

    [DllImport("libc", SetLastError = true)]
    private static extern int memfd_create([MarshalAs(UnmanagedType.LPUTF8Str)] string name, uint flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int ftruncate(int fd, long length);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}
