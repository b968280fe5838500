using System.Runtime.InteropServices;

namespace Dispatch.Benchmarks.Kvm;

/// <summary>The libc calls a KVM user-space VMM needs.</summary>
internal static unsafe partial class KvmNative
{
    public const int ORdWr = 2, OCloexec = 0x80000;
    public const int ProtRead = 1, ProtWrite = 2, MapShared = 1, MapPrivate = 2, MapAnonymous = 0x20;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    // ioctl is variadic; on x86-64 Linux an integer or pointer third argument is passed exactly as a fixed argument.
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, nint argument);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    public static int Ioctl(int fd, uint request, nint argument = 0) => Ioctl(fd, (nuint)request, argument);

    public static int Check(int result, string what) =>
        result >= 0 ? result : throw new InvalidOperationException($"{what} failed: errno {Marshal.GetLastPInvokeError()} ({Marshal.GetLastPInvokeErrorMessage()})");
}
