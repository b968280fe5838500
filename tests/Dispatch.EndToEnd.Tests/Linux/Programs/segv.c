/* Writes a line, then stores through a null pointer: the process dies of SIGSEGV (status 139 from a shell). */
static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

void cmain(void)
{
    sys3(1, 1, (long)"before the fault\n", 17);
    *(volatile int *)0 = 1;
    sys3(60, 0, 0, 0);
}

__asm__(".globl _start\n_start:\n and $-16, %rsp\n call cmain\n ud2\n");
