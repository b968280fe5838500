using System.Runtime.InteropServices;

namespace Dispatch.Execution.Simd;

/// <summary>
/// Host pages for the small native stubs of <see cref="HostStubs"/>. Pages are mapped read-write, filled, then flipped
/// to read-execute (never writable and executable at once). Only Linux and macOS on x86-64 are supported.
/// </summary>
internal static unsafe class ExecutableMemory
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int ChunkSize = 64 * 1024;
    private static byte* s_chunk;
    private static int s_used = ChunkSize;

    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS();

    /// <summary>Copies <paramref name="code"/> into executable memory; callers serialise (the stub cache holds a lock).</summary>
    public static nint Place(ReadOnlySpan<byte> code)
    {
        if (code.Length > ChunkSize) throw new ArgumentException("Stub too large.", nameof(code));
        int size = (code.Length + 15) & ~15;
        if (s_used + size > ChunkSize)
        {
            int anonymous = OperatingSystem.IsMacOS() ? 0x1000 : 0x20;
            nint p = mmap(0, ChunkSize, ProtRead | ProtWrite, 0x02 | anonymous, -1, 0);
            if (p == -1 || p == 0) throw new InvalidOperationException($"mmap failed: {Marshal.GetLastPInvokeError()}");
            s_chunk = (byte*)p;
            s_used = 0;
        }
        byte* target = s_chunk + s_used;
        long pageStart = (long)target & ~4095L;
        long pageEnd = ((long)target + size + 4095) & ~4095L;
        if (mprotect((nint)pageStart, (nuint)(pageEnd - pageStart), ProtRead | ProtWrite) != 0)
            throw new InvalidOperationException($"mprotect failed: {Marshal.GetLastPInvokeError()}");
        code.CopyTo(new Span<byte>(target, code.Length));
        if (mprotect((nint)pageStart, (nuint)(pageEnd - pageStart), ProtRead | ProtExec) != 0)
            throw new InvalidOperationException($"mprotect failed: {Marshal.GetLastPInvokeError()}");
        s_used += size;
        return (nint)target;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(nint address, nuint length, int protection);
}
