/*
 * Signal misuse that must end the process with SIGSEGV (status 139), natively and as a guest: a handler whose frame
 * cannot be written (the stack pointer is garbage when the signal arrives), and rt_sigreturn on a frame of zeros.
 */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void handler(int sig) { (void)sig; }

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    if (argc > 1 && strcmp(argv[1], "stack") == 0)
    {
        /* kill(getpid(), SIGUSR1) with RSP pointing at unmapped memory: the frame write fails. */
        __asm__ volatile("mov %%rsp, %%r12\n\t"
                         "mov $0x1000, %%rsp\n\t"
                         "syscall\n\t"
                         "mov %%r12, %%rsp"
                         :
                         : "a"(SYS_kill), "D"(getpid()), "S"(SIGUSR1)
                         : "rcx", "r11", "r12", "memory");
        return 0;
    }
    /* rt_sigreturn with RSP at a frame of zeros: RIP 0 afterwards. */
    static unsigned long zeros[256] __attribute__((aligned(16)));
    __asm__ volatile("lea 8(%0), %%rsp\n\t"
                     "syscall"
                     :
                     : "r"(zeros), "a"(SYS_rt_sigreturn)
                     : "rcx", "r11", "memory");
    return 0;
}
