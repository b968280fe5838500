/* A freestanding static program that hands the kernel pointers to unmapped, kernel-half, wrapping and huge ranges.
   Every call must fail with EFAULT (-14) or another error, never fault the caller or the host. Exits with 7. */
#include "../../Linux/Programs/freestanding.h"

#define KERNEL ((s64)0xFFFF800000000000UL)
#define TOP ((s64)0xFFFFFFFFFFFFF000UL)
#define UNMAPPED ((s64)0x00007EEE00000000UL)

void cmain(void)
{
    char buf[64] = "0123456789";
    line("write from kernel half", sys(1, 1, KERNEL, 8, 0, 0, 0));
    line("write from top page", sys(1, 1, TOP, 4096, 0, 0, 0));
    line("write wrapping the address space", sys(1, 1, -1, 2, 0, 0, 0));
    line("write from unmapped", sys(1, 1, UNMAPPED, 16, 0, 0, 0));
    line("openat unmapped path", sys(257, -100, UNMAPPED, 0, 0, 0, 0));
    line("openat wrapping path", sys(257, -100, -1, 0, 0, 0, 0));
    line("uname to NULL", sys(63, 0, 0, 0, 0, 0, 0));
    line("uname to kernel half", sys(63, KERNEL, 0, 0, 0, 0, 0));
    line("clock_gettime to low page", sys(228, 0, 8, 0, 0, 0, 0));
    line("nanosleep from unmapped", sys(35, UNMAPPED, 0, 0, 0, 0, 0));
    line("gettimeofday to top", sys(96, TOP, 0, 0, 0, 0, 0));
    s64 iov_bad[2] = { UNMAPPED, 5 };
    line("writev with unmapped iovec array", sys(20, 1, UNMAPPED, 1, 0, 0, 0));
    line("writev with unmapped buffer", sys(20, 1, (s64)iov_bad, 1, 0, 0, 0));
    line("getrandom to kernel half", sys(318, KERNEL, 16, 0, 0, 0, 0));
    line("fstat to unmapped", sys(5, 1, UNMAPPED, 0, 0, 0, 0));
    line("pipe to NULL", sys(22, 0, 0, 0, 0, 0, 0));
    line("getcwd to kernel half", sys(79, KERNEL, 4096, 0, 0, 0, 0));
    line("mmap huge", sys(9, 0, (s64)1 << 62, 3, 0x22, -1, 0) < 0);
    line("mmap wrapping hint fixed", sys(9, TOP, 0x2000, 3, 0x32, -1, 0) < 0);
    line("munmap huge", sys(11, 0x10000, (s64)1 << 62, 0, 0, 0, 0) <= 0);
    line("buffer intact", buf[0] == '0' && buf[9] == '9');
    sys(60, 7, 0, 0, 0, 0, 0);
}

__asm__(".global _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call cmain\n hlt\n");
