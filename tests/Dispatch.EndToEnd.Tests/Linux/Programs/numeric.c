/*
 * Floating point and integer arithmetic as a C library uses it, compared with the native run byte for byte: IEEE basic
 * operations in all four rounding modes, exception flags, x87 long double, printf/strtod round trips, qsort, 128-bit
 * integers and the string functions glibc picks by CPUID. Inputs come from a fixed xorshift generator, so nothing is
 * folded at compile time. Transcendental libm results are printed to 12 digits only: glibc picks FMA or SSE2 variants
 * by CPUID, and those may differ in the last bit.
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

/* A double with a random significand, sign and exponent in [-60, 60], sometimes a special value. */
static double random_double(void)
{
    uint64_t r = next();
    switch (r % 64)
    {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return INFINITY;
    case 3: return 5e-324; /* the smallest subnormal */
    case 4: return 0x1p-1022 * 0.75;
    default: break;
    }
    double m = (double)(next() >> 11) / 9007199254740992.0;
    return ldexp(m, (int)(next() % 121) - 60) * ((r >> 63) ? -1.0 : 1.0);
}

static uint64_t hash = 1469598103934665603ull;

static void mix(uint64_t v)
{
    hash ^= v;
    hash *= 1099511628211ull;
}

static void mix_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) mix(b[i]);
}

static void mix_double(double d) { mix_bytes(&d, sizeof d); }

static void mix_float(float f) { mix_bytes(&f, sizeof f); }

static void mix_long_double(long double d) { mix_bytes(&d, 10); /* the 80-bit value, not the padding */ }

static void report(const char *what)
{
    printf("%-28s %016" PRIx64 "\n", what, hash);
    hash = 1469598103934665603ull;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void basic_arithmetic(void)
{
    static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    static const char *names[] = {"to nearest", "upward", "downward", "toward zero"};
    for (int m = 0; m < 4; m++)
    {
        fesetround(modes[m]);
        for (int i = 0; i < 3000; i++)
        {
            volatile double a = random_double(), b = random_double();
            mix_double(a + b);
            mix_double(a - b);
            mix_double(a * b);
            mix_double(a / b);
            mix_double(sqrt(fabs(a)));
            mix_float((float)a);
            mix_float((float)a * (float)b);
            mix((uint64_t)llrint(a));
            mix((uint64_t)(int64_t)a);
            mix((uint64_t)(int32_t)(a * 1e-50));
            mix_double((double)(int64_t)next());
            mix_float((float)(uint64_t)next());
            mix_double(rint(a));
            mix_double(nearbyint(a * 0.001));
        }
        char label[40];
        snprintf(label, sizeof label, "double, %s", names[m]);
        report(label);
    }
    fesetround(FE_TONEAREST);
}

static void exception_flags(void)
{
    volatile double zero = 0.0, one = 1.0, big = 1e308, tiny = 1e-308, three = 3.0, result;
    volatile long double wide;
    int flags[6];
    feclearexcept(FE_ALL_EXCEPT);
    result = one / zero;
    flags[0] = fetestexcept(FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    result = zero / zero;
    flags[1] = fetestexcept(FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    result = big * big;
    flags[2] = fetestexcept(FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    result = tiny * tiny;
    flags[3] = fetestexcept(FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    result = one / three;
    flags[4] = fetestexcept(FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    wide = (long double)one / (long double)zero;
    flags[5] = fetestexcept(FE_ALL_EXCEPT);
    (void)result;
    (void)wide;
    printf("flags: 1/0 %#x, 0/0 %#x, overflow %#x, underflow %#x, 1/3 %#x, x87 1/0 %#x\n", flags[0], flags[1], flags[2],
           flags[3], flags[4], flags[5]);
}

static void long_double_arithmetic(void)
{
    static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    for (int m = 0; m < 4; m++)
    {
        fesetround(modes[m]);
        for (int i = 0; i < 2000; i++)
        {
            volatile long double a = random_double(), b = (long double)random_double() * 3.0L;
            mix_long_double(a + b);
            mix_long_double(a * b);
            mix_long_double(a / b);
            mix_long_double(sqrtl(fabsl(a)));
            mix_double((double)(a / b));
            mix((uint64_t)llrintl(a * 1000.0L));
        }
    }
    fesetround(FE_TONEAREST);
    report("long double, four modes");
    long double third = 1.0L / 3.0L;
    printf("long double: %.21Lg %La %.5Le\n", third, third, (long double)random_double() * 1e300L * 1e300L);
}

static void formatting(void)
{
    char buffer[64];
    int round_trip_failures = 0;
    for (int i = 0; i < 3000; i++)
    {
        double d = random_double();
        snprintf(buffer, sizeof buffer, "%.17g", d);
        mix_bytes(buffer, strlen(buffer));
        double back = strtod(buffer, NULL);
        if (memcmp(&back, &d, sizeof d) != 0 && d == d) round_trip_failures++;
        snprintf(buffer, sizeof buffer, "%a|%.3e|%f", d, d, d * 1e-30);
        mix_bytes(buffer, strlen(buffer));
        float f = strtof(buffer, NULL);
        mix_float(f);
    }
    report("printf/strtod");
    printf("round trips failed: %d\n", round_trip_failures);
    printf("%.3f %.0f %g %g %e %a\n", 2.5, 0.5, 1e-5, 123456789.0, 6.02214076e23, 0.1);
}

static void transcendental(void)
{
    for (int i = 0; i < 12; i++)
    {
        double x = random_double();
        double y = isfinite(x) ? fmod(x, 100.0) : 2.5;
        printf("%.12g: sin %.12g cos %.12g exp %.12g log %.12g pow %.12g atan2 %.12g cbrt %.12g\n", y, sin(y), cos(y),
               exp(y), log(fabs(y)), pow(fabs(y), 0.37), atan2(y, 0.5), cbrt(y));
    }
}

static void sorting(void)
{
    enum { Count = 4000 };
    static double values[Count];
    for (int i = 0; i < Count; i++) values[i] = random_double();
    values[7] = values[8];
    qsort(values, Count, sizeof values[0], compare_doubles);
    int ordered = 1;
    for (int i = 1; i < Count; i++)
        if (values[i - 1] > values[i]) ordered = 0;
    mix_bytes(values, sizeof values);
    report("qsort");
    printf("ordered: %d\n", ordered);
}

static void integers(void)
{
    for (int i = 0; i < 5000; i++)
    {
        uint64_t a = next(), b = next() >> (next() % 64);
        int64_t sa = (int64_t)a, sb = (int64_t)(b | 1);
        unsigned __int128 p = (unsigned __int128)a * b;
        mix((uint64_t)p);
        mix((uint64_t)(p >> 64));
        if (b != 0)
        {
            mix(a / b);
            mix(a % b);
            mix((uint64_t)(p / b));
        }
        mix((uint64_t)(sa / sb));
        mix((uint64_t)(sa % sb));
        mix((uint64_t)((__int128)sa * sb >> 64));
        mix(a >> (b & 63));
        mix((uint64_t)(sa >> (b & 63)));
        mix(a << (b & 63));
        mix((uint64_t)__builtin_popcountll(a));
        mix((uint64_t)(a ? __builtin_clzll(a) : 64));
        mix((uint64_t)(a ? __builtin_ctzll(a) : 64));
        mix(__builtin_bswap64(a));
        mix((uint64_t)((a << 7) | (a >> 57)));
    }
    report("integers");
}

static int sign(int v) { return (v > 0) - (v < 0); }

static void strings(void)
{
    static unsigned char buffer[1024], other[1024];
    for (size_t i = 0; i < sizeof buffer; i++) buffer[i] = (unsigned char)(next() % 251 + 1);
    for (int i = 0; i < 3000; i++)
    {
        size_t from = next() % 400, to = next() % 400, n = next() % 300;
        memmove(buffer + to, buffer + from, n);
        memcpy(other + (next() % 300), buffer + (next() % 300), next() % 200);
        memset(buffer + (next() % 500), (int)(next() % 250 + 1), next() % 100);
        buffer[500 + next() % 500] = 0;
        size_t start = next() % 500;
        mix(strlen((char *)buffer + start));
        const char *c = strchr((char *)buffer + start, (int)(next() % 250 + 1));
        mix(c ? (uint64_t)(c - (char *)buffer) : ~0ull);
        /* Only the sign is specified; the magnitude depends on the implementation glibc picked. */
        mix((uint64_t)sign(memcmp(buffer + (next() % 300), other + (next() % 300), next() % 200)));
        mix((uint64_t)sign(strncmp((char *)buffer + start, (char *)buffer + (next() % 500), next() % 64)));
        const void *r = memrchr(buffer, (int)(next() % 250 + 1), next() % 1024);
        mix(r ? (uint64_t)((const unsigned char *)r - buffer) : ~0ull);
        buffer[500 + next() % 500] = (unsigned char)(next() % 251 + 1);
    }
    mix_bytes(buffer, sizeof buffer);
    mix_bytes(other, sizeof other);
    report("strings");
}

int main(void)
{
    basic_arithmetic();
    exception_flags();
    long_double_arithmetic();
    formatting();
    transcendental();
    sorting();
    integers();
    strings();
    return 0;
}
