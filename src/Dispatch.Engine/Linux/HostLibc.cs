using System.Runtime.InteropServices;

namespace Dispatch.Linux;

/// <summary>
/// The host C library's file-system calls. The guest's files are the host's: a Linux host with the same x86-64 ABI, so
/// flags, structure layouts (stat, statx, linux_dirent64, termios, winsize, utsname) and error numbers pass through as they are.
/// </summary>
internal static unsafe partial class HostLibc
{
    private const string Libc = "libc";

    [DllImport(Libc, SetLastError = true)] public static extern nint read(int fd, byte* buf, nint count);
    [DllImport(Libc, SetLastError = true)] public static extern nint write(int fd, byte* buf, nint count);
    [DllImport(Libc, SetLastError = true)] public static extern nint pread64(int fd, byte* buf, nint count, long offset);
    [DllImport(Libc, SetLastError = true)] public static extern nint pwrite64(int fd, byte* buf, nint count, long offset);
    [DllImport(Libc, SetLastError = true)] public static extern int openat(int dirfd, byte* path, int flags, uint mode);
    [DllImport(Libc, SetLastError = true)] public static extern int close(int fd);
    [DllImport(Libc, SetLastError = true)] public static extern long lseek(int fd, long offset, int whence);
    [DllImport(Libc, SetLastError = true)] public static extern int fstat(int fd, byte* buf);
    [DllImport(Libc, SetLastError = true)] public static extern int fstatat(int dirfd, byte* path, byte* buf, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int statx(int dirfd, byte* path, int flags, uint mask, byte* buf);
    [DllImport(Libc, SetLastError = true)] public static extern nint getdents64(int fd, byte* buf, nint count);
    [DllImport(Libc, SetLastError = true)] public static extern nint readlinkat(int dirfd, byte* path, byte* buf, nint size);
    [DllImport(Libc, SetLastError = true)] public static extern int ioctl(int fd, ulong request, byte* arg);
    [DllImport(Libc, SetLastError = true)] public static extern int fcntl(int fd, int cmd, long arg);
    [DllImport(Libc, SetLastError = true, EntryPoint = "fcntl")] public static extern int fcntl_pointer(int fd, int cmd, byte* arg);
    [DllImport(Libc, SetLastError = true)] public static extern int dup(int fd);
    [DllImport(Libc, SetLastError = true)] public static extern int pipe2(int* fds, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int faccessat(int dirfd, byte* path, int mode, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int unlinkat(int dirfd, byte* path, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int mkdirat(int dirfd, byte* path, uint mode);
    [DllImport(Libc, SetLastError = true)] public static extern int renameat(int olddirfd, byte* oldpath, int newdirfd, byte* newpath);
    [DllImport(Libc, SetLastError = true)] public static extern int ftruncate(int fd, long length);
    [DllImport(Libc, SetLastError = true)] public static extern int fsync(int fd);
    [DllImport(Libc, SetLastError = true)] public static extern int fdatasync(int fd);
    [DllImport(Libc, SetLastError = true)] public static extern int eventfd(uint initval, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int socketpair(int domain, int type, int protocol, int* sv);
    [DllImport(Libc, SetLastError = true)] public static extern int epoll_create1(int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int epoll_ctl(int epfd, int op, int fd, byte* ev);
    [DllImport(Libc, SetLastError = true)] public static extern int epoll_wait(int epfd, byte* events, int maxevents, int timeout);
    [DllImport(Libc, SetLastError = true)] public static extern nint sendto(int fd, byte* buf, nint len, int flags, byte* addr, int addrlen);
    [DllImport(Libc, SetLastError = true)] public static extern nint recvfrom(int fd, byte* buf, nint len, int flags, byte* addr, int* addrlen);
    [DllImport(Libc, SetLastError = true)] public static extern int shutdown(int fd, int how);
    [DllImport(Libc, SetLastError = true)] public static extern int symlinkat(byte* target, int newdirfd, byte* linkpath);
    [DllImport(Libc, SetLastError = true)] public static extern int linkat(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int truncate(byte* path, long length);
    [DllImport(Libc, SetLastError = true)] public static extern int poll(byte* fds, ulong nfds, int timeout);
    [DllImport(Libc, SetLastError = true)] public static extern int fchmod(int fd, uint mode);
    [DllImport(Libc, SetLastError = true)] public static extern int fchown(int fd, uint owner, uint group);
    [DllImport(Libc, SetLastError = true)] public static extern int fchmodat(int dirfd, byte* path, uint mode, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int fchownat(int dirfd, byte* path, uint owner, uint group, int flags);
    [DllImport(Libc, SetLastError = true)] public static extern int uname(byte* buf);
    [DllImport(Libc, SetLastError = true)] public static extern byte* getcwd(byte* buf, nint size);
    [DllImport(Libc)] public static extern int getppid();
    [DllImport(Libc)] public static extern uint getuid();
    [DllImport(Libc)] public static extern uint geteuid();
    [DllImport(Libc)] public static extern uint getgid();
    [DllImport(Libc)] public static extern uint getegid();

    /// <summary>The negated errno of the last failed call, as a system call returns it.</summary>
    public static long Error() => -Marshal.GetLastPInvokeError();

    public static long Result(long value) => value < 0 ? Error() : value;
}
