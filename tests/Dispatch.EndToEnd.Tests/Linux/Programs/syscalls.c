/* A freestanding static program (no C library, no SSE: -nostdlib -mgeneral-regs-only) that checks the initial stack and
   the system calls the Linux layer implements. Run with one argument: a file whose contents it prints. Exits with 42. */
#include "freestanding.h"
static int eq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }
static int ends(const char *s, const char *suffix) { u64 a = len(s), b = len(suffix); return a >= b && eq(s + a - b, suffix); }

extern void _start(void);

void cmain(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    line("argc", argc);
    for (long i = 1; i < argc; i++) { out("arg: "); out(argv[i]); out("\n"); }
    char **e = envp;
    while (*e) e++;
    u64 *aux = (u64 *)(e + 1);
    u64 pagesz = 0, phnum = 0, phent = 0, entry = 0, random = 0, secure = 9; const char *platform = "", *execfn = "";
    for (; aux[0]; aux += 2)
    {
        if (aux[0] == 6) pagesz = aux[1];
        if (aux[0] == 5) phnum = aux[1];
        if (aux[0] == 4) phent = aux[1];
        if (aux[0] == 9) entry = aux[1];
        if (aux[0] == 25) random = aux[1];
        if (aux[0] == 23) secure = aux[1];
        if (aux[0] == 15) platform = (const char *)aux[1];
        if (aux[0] == 31) execfn = (const char *)aux[1];
    }
    line("AT_PAGESZ", (s64)pagesz);
    line("AT_PHNUM", (s64)phnum);
    line("AT_PHENT", (s64)phent);
    line("AT_ENTRY is _start", entry == (u64)&_start);
    line("AT_RANDOM given", random != 0);
    line("AT_SECURE", (s64)secure);
    out("AT_PLATFORM = "); out(platform); out("\n");
    line("AT_EXECFN ends with syscalls", ends(execfn, "syscalls"));
    line("rsp 16-byte aligned", ((u64)sp & 15) == 0);

    /* brk */
    u64 cur = (u64)sys(12, 0, 0, 0, 0, 0, 0);
    u64 top = (u64)sys(12, (s64)(cur + 20000), 0, 0, 0, 0, 0);
    line("brk grows", top == cur + 20000);
    ((volatile char *)cur)[19999] = 'x';
    line("brk memory usable", ((volatile char *)cur)[19999] == 'x');

    /* mmap, mprotect, mremap, munmap */
    char *m = (char *)sys(9, 0, 1 << 20, 3, 0x22, -1, 0);
    line("mmap page aligned", ((u64)m & 4095) == 0);
    for (int i = 0; i < (1 << 20); i += 4096) m[i] = (char)(i >> 12);
    line("mmap zero filled", m[1] == 0 && m[4097] == 0);
    line("mprotect", sys(10, (s64)m, 4096, 1, 0, 0, 0));
    line("write from read-only page", sys(1, 1, (s64)m + 4096 * 3 + 1, 0, 0, 0, 0));
    line("mremap across areas", sys(25, (s64)m, 1 << 20, 4 << 20, 1, 0, 0));
    line("munmap first", sys(11, (s64)m, 1 << 20, 0, 0, 0, 0));
    m = (char *)sys(9, 0, 1 << 20, 3, 0x22, -1, 0);
    for (int i = 0; i < (1 << 20); i += 4096) m[i] = (char)(i >> 12);
    char *g = (char *)sys(25, (s64)m, 1 << 20, 4 << 20, 1, 0, 0);
    line("mremap keeps contents", g[4096 * 5] == 5 && g[4096 * 255] == (char)255);
    line("munmap", sys(11, (s64)g, 4 << 20, 0, 0, 0, 0));
    line("munmap unaligned", sys(11, (s64)g + 1, 4096, 0, 0, 0, 0));

    /* bad pointers are EFAULT */
    line("write from NULL", sys(1, 1, 0, 5, 0, 0, 0));
    line("read into unmapped", sys(0, 0, (s64)g, 5, 0, 0, 0));
    line("bad fd", sys(1, 99, (s64)"x", 1, 0, 0, 0));

    /* files */
    if (argc > 1)
    {
        s64 fd = sys(257, -100, (s64)argv[1], 0, 0, 0, 0);
        line("openat", fd);
        u64 st[18];
        line("fstat", sys(5, fd, (s64)st, 0, 0, 0, 0));
        line("st_size", (s64)st[6]);
        char buf[256];
        s64 n = sys(0, fd, (s64)buf, sizeof buf - 1, 0, 0, 0);
        line("read", n);
        if (n >= 0) { buf[n] = 0; out(buf); }
        line("lseek", sys(8, fd, 2, 0, 0, 0, 0));
        n = sys(0, fd, (s64)buf, 3, 0, 0, 0);
        buf[n > 0 ? n : 0] = 0; out("after lseek: "); out(buf); out("\n");
        n = sys(17, fd, (s64)buf, 4, 1, 0, 0);
        buf[n > 0 ? n : 0] = 0; out("pread: "); out(buf); out("\n");
        line("close", sys(3, fd, 0, 0, 0, 0, 0));
        line("close again", sys(3, fd, 0, 0, 0, 0, 0));
        line("open missing", sys(257, -100, (s64)"/nonexistent/file", 0, 0, 0, 0));
        u64 st2[18];
        line("newfstatat", sys(262, -100, (s64)argv[1], (s64)st2, 0, 0, 0));
        line("same size", st2[6] == st[6]);
    }

    /* writev */
    struct { const char *b; u64 n; } iov[3] = { { "write", 5 }, { "v ", 2 }, { "works\n", 6 } };
    line("writev", sys(20, 1, (s64)iov, 3, 0, 0, 0));

    /* pipes and dup */
    int p[2];
    line("pipe2", sys(293, (s64)p, 0, 0, 0, 0, 0));
    sys(1, p[1], (s64)"through a pipe\n", 15, 0, 0, 0);
    char pb[32];
    s64 pn = sys(0, p[0], (s64)pb, sizeof pb - 1, 0, 0, 0);
    pb[pn > 0 ? pn : 0] = 0;
    out(pb);
    line("dup2", sys(33, 1, 7, 0, 0, 0, 0));
    sys(1, 7, (s64)"via fd 7\n", 9, 0, 0, 0);
    line("dup", sys(32, 1, 0, 0, 0, 0, 0) >= 3);

    /* identity, time, randomness */
    char uts[390];
    line("uname", sys(63, (s64)uts, 0, 0, 0, 0, 0));
    out("sysname = "); out(uts); out("\n");
    u64 ts[2] = { 0, 0 };
    line("clock_gettime", sys(228, 1, (s64)ts, 0, 0, 0, 0));
    line("monotonic clock runs", ts[0] != 0 || ts[1] != 0);
    char rnd[16];
    line("getrandom", sys(318, (s64)rnd, 16, 0, 0, 0, 0));
    line("getpid positive", sys(39, 0, 0, 0, 0, 0, 0) > 0);
    line("getuid matches geteuid", sys(102, 0, 0, 0, 0, 0, 0) == sys(107, 0, 0, 0, 0, 0, 0));
    char exe[512];
    s64 rn = sys(89, (s64)"/proc/self/exe", (s64)exe, sizeof exe - 1, 0, 0, 0);
    exe[rn > 0 ? rn : 0] = 0;
    line("/proc/self/exe ends with syscalls", ends(exe, "/syscalls"));
    char cwd[512];
    line("getcwd positive", sys(79, (s64)cwd, sizeof cwd, 0, 0, 0, 0) > 0);

    /* FS base */
    static u64 tls[4] = { 0x1234, 0, 0, 0 };
    tls[0] = (u64)&tls[0] + 0;
    line("arch_prctl", sys(158, 0x1002, (s64)tls, 0, 0, 0, 0));
    u64 v;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(v));
    line("fs:0 reads the TLS block", v == (u64)&tls[0]);

    /* signals are recorded */
    u64 act[4] = { 1, 0, 0, 0 }, old[4];
    line("rt_sigaction", sys(13, 10, (s64)act, (s64)old, 8, 0, 0));
    u64 set = 1UL << 9, oldset = 99;
    line("rt_sigprocmask", sys(14, 0, (s64)&set, (s64)&oldset, 8, 0, 0));
    line("old mask", (s64)oldset);

    sys(1, 2, (s64)"to stderr\n", 10, 0, 0, 0);
    sys(231, 42, 0, 0, 0, 0, 0);
}

__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call cmain\n ud2\n");
