/* Raw Linux system calls and minimal output for the freestanding test programs (no C library: -nostdlib). */
#ifndef DISPATCH_FREESTANDING_H
#define DISPATCH_FREESTANDING_H

typedef unsigned long u64;
typedef long s64;

static s64 sys(s64 n, s64 a, s64 b, s64 c, s64 d, s64 e, s64 f)
{
    s64 r;
    register s64 r10 __asm__("r10") = d;
    register s64 r8 __asm__("r8") = e;
    register s64 r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}

static u64 len(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static void out(const char *s) { sys(1, 1, (s64)s, (s64)len(s), 0, 0, 0); }
static void num(s64 v)
{
    char b[24]; int i = 23; b[i] = 0; int neg = v < 0; u64 u = neg ? -(u64)v : (u64)v;
    do { b[--i] = (char)('0' + u % 10); u /= 10; } while (u);
    if (neg) b[--i] = '-';
    out(b + i);
}
static void line(const char *label, s64 v) { out(label); out(" = "); num(v); out("\n"); }

#endif
