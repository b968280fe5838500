/* A freestanding guest for `dispatch run --flat`: started at its first byte (0x100000) in long mode at CPL 0, it prints
   through COM1 (polling the line status register as a real driver does), computes something, and halts. Everything is
   inlined into _start so that it is the first byte of .text. */
static inline void outb(unsigned short port, unsigned char value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline unsigned char inb(unsigned short port) { unsigned char v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline __attribute__((always_inline)) void put(char c) { while (!(inb(0x3F8 + 5) & 0x20)) { } outb(0x3F8, (unsigned char)c); }
static inline __attribute__((always_inline)) void puts_(const char *s) { while (*s) put(*s++); }
static inline __attribute__((always_inline)) void put_u(unsigned long v) { char b[24]; int n = 0; do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v); while (n) put(b[--n]); }

__attribute__((section(".text.start"))) void _start(void)
{
    puts_("flat image says hello\n");
    unsigned long sum = 0;
    for (unsigned long i = 1; i <= 1000; i++) sum += i * i;
    puts_("sum of squares 1..1000 = ");
    put_u(sum);
    put('\n');
    for (;;) __asm__ volatile("hlt");
}
