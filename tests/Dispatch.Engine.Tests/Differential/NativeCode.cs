using System.Runtime.InteropServices;

namespace Dispatch.Engine.Tests.Differential;

/// <summary>A page of host memory holding machine code, mapped read+execute after it is written (never writable and executable at once).</summary>
internal sealed unsafe partial class NativeCode : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;

    private readonly nint _address;
    private readonly nuint _length;

    public NativeCode(ReadOnlySpan<byte> code)
    {
        _length = (nuint)((code.Length + 4095) & ~4095);
        _address = Mmap(0, _length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (_address == -1) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        code.CopyTo(new Span<byte>((void*)_address, code.Length));
        if (Mprotect(_address, _length, ProtRead | ProtExec) != 0)
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Calls the code as <c>void f(ulong* state)</c> (System V: the argument in RDI).</summary>
    public void Call(ulong* state) => ((delegate* unmanaged<ulong*, void>)_address)(state);

    public void Dispose() => _ = Munmap(_address, _length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
