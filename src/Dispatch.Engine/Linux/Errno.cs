namespace Dispatch.Linux;

/// <summary>Linux error numbers (asm-generic/errno-base.h, errno.h) the system-call layer returns, negated, in RAX.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
        EFAULT = 14, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EMFILE = 24, ENOTTY = 25, ESPIPE = 29, EPIPE = 32,
        ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ETIMEDOUT = 110;
}
