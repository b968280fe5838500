using System.Text;

namespace Dispatch.Linux;

/// <summary>
/// The process's working directory: a host descriptor (O_PATH) that every relative path resolves against, so that chdir
/// changes the guest's directory and never the host process's own (which the VMM and other guests share).
/// </summary>
public sealed unsafe partial class LinuxKernel
{
    private const int OPath = 0x20_0000, ODirectory = 0x1_0000, OCloexec = 0x8_0000;
    // AT_FDCWD until the process first changes directory: the host's working directory.
    private int _workingDirectoryFd = AtFdCwd;
    private string? _workingDirectory;

    private long ChangeDirectory(int dirfd, ulong pathPointer)
    {
        var path = Path(pathPointer);
        if (path is null) return -Errno.EFAULT;
        if (HostDir(dirfd) is not { } host) return -Errno.EBADF;
        int fd;
        fixed (byte* p = NulTerminated(path)) fd = HostLibc.openat(host, p, OPath | ODirectory | OCloexec, 0);
        return fd < 0 ? HostLibc.Error() : SetWorkingDirectory(fd);
    }

    private long ChangeDirectory(long fd)
    {
        var f = File(fd);
        if (f is null) return -Errno.EBADF;
        if (!f.IsHost) return -Errno.ENOTDIR;
        int copy;
        fixed (byte* p = ".\0"u8) copy = HostLibc.openat(f.HostFd, p, OPath | ODirectory | OCloexec, 0);
        return copy < 0 ? HostLibc.Error() : SetWorkingDirectory(copy);
    }

    private long SetWorkingDirectory(int fd)
    {
        if (_workingDirectoryFd != AtFdCwd) HostLibc.close(_workingDirectoryFd);
        _workingDirectoryFd = fd;
        // The directory's path as the host names it now, for getcwd.
        var target = new byte[4096];
        nint n;
        fixed (byte* link = Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}\0"))
        fixed (byte* buffer = target)
            n = HostLibc.readlinkat(AtFdCwd, link, buffer, target.Length);
        _workingDirectory = n > 0 ? Encoding.UTF8.GetString(target, 0, (int)n) : null;
        return 0;
    }

    private string WorkingDirectory => _workingDirectory ?? Directory.GetCurrentDirectory();

    /// <summary>Releases the host descriptor behind the working directory.</summary>
    internal void CloseWorkingDirectory()
    {
        if (_workingDirectoryFd != AtFdCwd) HostLibc.close(_workingDirectoryFd);
        _workingDirectoryFd = AtFdCwd;
    }
}
