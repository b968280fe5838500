/*
 * Signal handlers, compared with the native run: faults turned into signals (with siginfo and the trap's registers in
 * the ucontext), handlers that return (rt_sigreturn restores registers, a changed RIP, the mask and the SSE state),
 * siglongjmp out of handlers, the alternate stack, masks and pending signals, nesting, SA_RESETHAND and SA_NODEFER.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf jump;
static volatile int last_signal, last_code, count;
static volatile uintptr_t last_address;
static char *page;

static void jump_out(int sig, siginfo_t *info, void *context)
{
    (void)context;
    last_signal = sig;
    last_code = info->si_code;
    last_address = (uintptr_t)info->si_addr;
    siglongjmp(jump, 1);
}

/* Makes the faulting page writable and returns: the store runs again and succeeds. */
static void unprotect(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    count++;
    printf("SIGSEGV %d at page+%ld, code %d, trap %lld, write %d\n", sig, (long)((char *)info->si_addr - page), info->si_code,
           (long long)uc->uc_mcontext.gregs[REG_TRAPNO], (int)((uc->uc_mcontext.gregs[REG_ERR] >> 1) & 1));
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

/* Skips the 2-byte IDIV ECX and makes its quotient 42. */
static void skip_divide(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    printf("SIGFPE %d code %d at rip+0: %d\n", sig, info->si_code, (uintptr_t)info->si_addr == (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    uc->uc_mcontext.gregs[REG_RIP] += 2;
    uc->uc_mcontext.gregs[REG_RAX] = 42;
}

/* Clobbers XMM8 and the rounding mode: the interrupted code must not see either. */
static void clobber_sse(int sig)
{
    (void)sig;
    double x = 0.1;
    __asm__ volatile("movsd %0, %%xmm8" : : "m"(x) : "xmm8");
    unsigned csr = 0x7F80; /* round toward zero */
    __asm__ volatile("ldmxcsr %0" : : "m"(csr));
    count++;
}

static void on_alternate_stack(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    stack_t current;
    sigaltstack(NULL, &current);
    char local;
    printf("signal %d on the alternate stack: %d, flags %d\n", sig,
           &local >= (char *)current.ss_sp && &local < (char *)current.ss_sp + current.ss_size, current.ss_flags);
}

static void outer(int sig)
{
    printf("outer %d begins\n", sig);
    raise(SIGUSR2);
    printf("outer %d ends\n", sig);
}

static void inner(int sig) { printf("inner %d\n", sig); }

static void counting(int sig)
{
    count++;
    if (count < 3) raise(sig); /* SA_NODEFER: delivered inside itself */
}

static void install(int sig, void (*action)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = action;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void install_plain(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    /* A handler that returns: the faulting store is retried. */
    install(SIGSEGV, unprotect, 0);
    mprotect(page, 4096, PROT_READ);
    page[100] = 7;
    printf("store retried: %d, handler ran %d time(s)\n", page[100], count);

    /* A handler that edits the saved context: RIP and RAX. */
    install(SIGFPE, skip_divide, 0);
    int quotient;
    __asm__ volatile("mov $100, %%eax\n\tcltd\n\txor %%ecx, %%ecx\n\tidiv %%ecx" : "=a"(quotient) : : "ecx", "edx");
    printf("quotient after the handler: %d\n", quotient);

    /* SSE registers and MXCSR survive a handler that changes them. */
    install_plain(SIGUSR1, clobber_sse, 0);
    double before = 2.5, after;
    __asm__ volatile("movsd %1, %%xmm8\n\t"
                     "mov %2, %%eax\n\t"
                     "mov %3, %%edi\n\t"
                     "mov %4, %%esi\n\t"
                     "syscall\n\t"
                     "movsd %%xmm8, %0"
                     : "=m"(after)
                     : "m"(before), "i"(SYS_kill), "r"(getpid()), "i"(SIGUSR1)
                     : "rax", "rdi", "rsi", "rcx", "r11", "xmm8", "memory");
    unsigned csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    printf("xmm8 after the handler %.2f, mxcsr %#x\n", after, csr);

    /* Faults that leave through siglongjmp, with their si_code and si_addr. */
    install(SIGSEGV, jump_out, 0);
    install(SIGILL, jump_out, 0);
    install(SIGTRAP, jump_out, 0);
    install(SIGBUS, jump_out, 0);
    if (sigsetjmp(jump, 1) == 0) *(volatile int *)(uintptr_t)(argc * 0x10) = 1;
    printf("signal %d code %d address %#lx\n", last_signal, last_code, (unsigned long)last_address);
    if (sigsetjmp(jump, 1) == 0) __asm__ volatile("ud2");
    printf("signal %d code %d\n", last_signal, last_code);
    if (sigsetjmp(jump, 1) == 0) __asm__ volatile("int3");
    printf("signal %d code %d\n", last_signal, last_code);
    if (sigsetjmp(jump, 1) == 0) __asm__ volatile("hlt"); /* privileged: #GP */
    printf("signal %d code %d address %#lx\n", last_signal, last_code, (unsigned long)last_address);
    if (sigsetjmp(jump, 1) == 0) __asm__ volatile("mov %%ax, %%ds" : : "a"(0x4)); /* an LDT selector, and there is no LDT */
    printf("signal %d code %d\n", last_signal, last_code);
    munmap(page, 8192);
    if (sigsetjmp(jump, 1) == 0) page[5000] = 1;
    printf("signal %d code %d at page+%ld\n", last_signal, last_code, (long)((char *)last_address - page));

    /* The alternate stack. */
    stack_t alternate = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
    sigaltstack(&alternate, NULL);
    install(SIGUSR1, on_alternate_stack, SA_ONSTACK);
    raise(SIGUSR1);
    install(SIGUSR1, on_alternate_stack, 0);
    raise(SIGUSR1);

    /* Nesting, masks, pending signals. */
    install_plain(SIGUSR1, outer, 0);
    install_plain(SIGUSR2, inner, 0);
    raise(SIGUSR1);
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR2);
    sigpending(&pending);
    printf("SIGUSR2 pending while blocked: %d\n", sigismember(&pending, SIGUSR2));
    printf("unblocking\n");
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    sigpending(&pending);
    printf("pending after: %d\n", sigismember(&pending, SIGUSR2));

    count = 0;
    install_plain(SIGUSR1, counting, SA_NODEFER);
    raise(SIGUSR1);
    printf("SA_NODEFER nesting: %d\n", count);

    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    printf("ignored SIGUSR2\n");

    /* SA_RESETHAND: the second SIGUSR1 has the default action and ends the process with 128 + 10. */
    count = 0;
    install_plain(SIGUSR1, counting, SA_RESETHAND | SA_NODEFER);
    count = 2;
    raise(SIGUSR1);
    printf("first SIGUSR1 handled: %d\n", count);
    if (argc > 1) return 0;
    raise(SIGUSR1);
    printf("not reached\n");
    return 1;
}
