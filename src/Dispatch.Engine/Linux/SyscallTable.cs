namespace Dispatch.Linux;

/// <summary>
/// x86-64 system-call numbers (arch/x86/entry/syscalls/syscall_64.tbl) with names and argument kinds for tracing:
/// d = decimal, x = hex, s = path string, w = buffer written by the guest (length in the next argument), r = buffer the
/// kernel fills (printed after the call, length is the result), p = pointer.
/// </summary>
public static class SyscallTable
{
    private static readonly Dictionary<int, (string Name, string Args)> Entries = new()
    {
        [0] = ("read", "drd"), [1] = ("write", "dwd"), [2] = ("open", "sxx"), [3] = ("close", "d"), [4] = ("stat", "sp"),
        [5] = ("fstat", "dp"), [6] = ("lstat", "sp"), [7] = ("poll", "pdd"), [7] = ("poll", "pdd"), [8] = ("lseek", "ddd"), [9] = ("mmap", "xxxxdx"),
        [10] = ("mprotect", "xxx"), [11] = ("munmap", "xx"), [12] = ("brk", "x"), [13] = ("rt_sigaction", "dppd"),
        [14] = ("rt_sigprocmask", "dppd"), [15] = ("rt_sigreturn", ""), [16] = ("ioctl", "dxp"), [17] = ("pread64", "drdd"),
        [18] = ("pwrite64", "dwdd"), [19] = ("readv", "dpd"), [20] = ("writev", "dpd"), [21] = ("access", "sx"),
        [22] = ("pipe", "p"), [23] = ("select", "dpppp"), [24] = ("sched_yield", ""), [25] = ("mremap", "xxxxx"), [28] = ("madvise", "xxd"),
        [32] = ("dup", "d"), [33] = ("dup2", "dd"), [34] = ("pause", ""), [35] = ("nanosleep", "pp"), [36] = ("getitimer", "dp"), [37] = ("alarm", "d"), [38] = ("setitimer", "dpp"), [39] = ("getpid", ""), [44] = ("sendto", "dpdxpd"), [45] = ("recvfrom", "dpdxpp"), [48] = ("shutdown", "dd"), [53] = ("socketpair", "dxdp"),
        [56] = ("clone", "xpppp"), [60] = ("exit", "d"), [61] = ("wait4", "dpdp"), [62] = ("kill", "dd"), [63] = ("uname", "p"), [72] = ("fcntl", "ddx"),
        [74] = ("fsync", "d"), [75] = ("fdatasync", "d"), [76] = ("truncate", "sd"), [77] = ("ftruncate", "dd"), [79] = ("getcwd", "pd"), [80] = ("chdir", "s"), [81] = ("fchdir", "d"), [80] = ("chdir", "s"),
        [82] = ("rename", "ss"), [83] = ("mkdir", "sx"), [84] = ("rmdir", "s"), [86] = ("link", "ss"), [87] = ("unlink", "s"), [88] = ("symlink", "ss"),
        [89] = ("readlink", "spd"), [90] = ("chmod", "sx"), [91] = ("fchmod", "dx"), [92] = ("chown", "sdd"), [93] = ("fchown", "ddd"), [94] = ("lchown", "sdd"), [95] = ("umask", "x"), [96] = ("gettimeofday", "pp"), [97] = ("getrlimit", "dp"),
        [98] = ("getrusage", "dp"), [99] = ("sysinfo", "p"), [99] = ("sysinfo", "p"), [102] = ("getuid", ""), [104] = ("getgid", ""),
        [107] = ("geteuid", ""), [108] = ("getegid", ""), [110] = ("getppid", ""), [111] = ("getpgrp", ""),
        [127] = ("rt_sigpending", "pd"), [130] = ("rt_sigsuspend", "pd"), [131] = ("sigaltstack", "pp"), [157] = ("prctl", "dxxxx"), [158] = ("arch_prctl", "xx"), [186] = ("gettid", ""),
        [200] = ("tkill", "dd"), [201] = ("time", "p"), [202] = ("futex", "pdxppx"), [203] = ("sched_setaffinity", "ddp"), [204] = ("sched_getaffinity", "ddp"), [213] = ("epoll_create", "d"),
        [217] = ("getdents64", "dpd"), [218] = ("set_tid_address", "p"), [228] = ("clock_gettime", "dp"),
        [229] = ("clock_getres", "dp"), [230] = ("clock_nanosleep", "ddpp"), [232] = ("epoll_wait", "dpdd"), [233] = ("epoll_ctl", "dddp"), [231] = ("exit_group", "d"),
        [234] = ("tgkill", "ddd"), [257] = ("openat", "dsxx"), [258] = ("mkdirat", "dsx"), [260] = ("fchownat", "dsddx"), [262] = ("newfstatat", "dspx"),
        [263] = ("unlinkat", "dsx"), [264] = ("renameat", "dsds"), [265] = ("linkat", "dsdsx"), [266] = ("symlinkat", "sds"), [267] = ("readlinkat", "dspd"), [268] = ("fchmodat", "dsx"), [270] = ("pselect6", "dppppp"), [271] = ("ppoll", "pdppd"), [269] = ("faccessat", "dsx"),
        [273] = ("set_robust_list", "pd"), [281] = ("epoll_pwait", "dpddpd"), [284] = ("eventfd", "d"), [290] = ("eventfd2", "dx"), [291] = ("epoll_create1", "x"), [292] = ("dup3", "ddx"), [293] = ("pipe2", "px"), [302] = ("prlimit64", "ddpp"),
        [318] = ("getrandom", "pdx"), [332] = ("statx", "dsxxp"), [334] = ("rseq", "pdxx"), [435] = ("clone3", "pd"), [439] = ("faccessat2", "dsxx"),
    };

    public static string Name(long number) =>
        Entries.TryGetValue((int)number, out var e) ? e.Name : $"syscall_{number}";

    public static string ArgumentKinds(long number) =>
        Entries.TryGetValue((int)number, out var e) ? e.Args : "xxxxxx";
}
