/*
 * Guest workloads for the throughput benchmarks. The same source is built twice: as a flat 64-bit guest image
 * (-DDISPATCH_GUEST, entry _start at 0x100000, command block at 0x90000) and as a native shared library.
 * Integer code only: the engine does not execute SSE or x87 yet, so both builds use -mno-sse -mno-mmx.
 */
#include <stddef.h>
#include <stdint.h>

/* xorshift64 with a multiply-add: registers only, no memory traffic. */
uint64_t work_integer(uint64_t iterations)
{
    uint64_t x = 88172645463325252ull, acc = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc += x * 3 + (x >> 11);
    }
    return acc;
}

/* Sums a large array one cache line apart, eight interleaved passes, so every load misses the line the last one used. */
uint64_t work_memory(const uint64_t *words, size_t count, unsigned passes)
{
    uint64_t sum = 0;
    for (unsigned p = 0; p < passes; p++)
        for (size_t start = 0; start < 8; start++)
            for (size_t i = start; i < count; i += 8)
                sum += words[i] ^ i;
    return sum;
}

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

/* SHA-256 (FIPS 180-4) of data[0..length), digest written big-endian to out[0..32). */
void work_sha256(const uint8_t *data, size_t length, uint8_t *out)
{
    uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    size_t full = length & ~(size_t)63;
    for (size_t i = 0; i < full; i += 64) sha256_block(h, data + i);
    uint8_t tail[128];
    size_t rest = length - full, padded = rest < 56 ? 64 : 128;
    for (size_t i = 0; i < padded; i++) tail[i] = i < rest ? data[full + i] : 0;
    tail[rest] = 0x80;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) tail[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < padded; i += 64) sha256_block(h, tail + i);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24); out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8); out[4 * i + 3] = (uint8_t)h[i];
    }
}

#ifdef DISPATCH_GUEST
/* The host writes a command here before each run and reads the result back. */
struct command { uint64_t op, arg0, arg1, arg2, result; uint8_t digest[32]; };
#define COMMAND ((volatile struct command *)0x90000)

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n) { uint8_t *p = d; while (n--) *p++ = (uint8_t)c; return d; }
void *memcpy(void *d, const void *s, size_t n) { uint8_t *p = d; const uint8_t *q = s; while (n--) *p++ = *q++; return d; }

__attribute__((section(".text.entry"), noreturn)) void _start(void)
{
    volatile struct command *c = COMMAND;
    uint64_t result = 0;
    switch (c->op) {
    case 1: result = work_integer(c->arg0); break;
    case 2: result = work_memory((const uint64_t *)c->arg0, c->arg1, (unsigned)c->arg2); break;
    case 3: work_sha256((const uint8_t *)c->arg0, c->arg1, (uint8_t *)c->digest); break;
    }
    c->result = result;
    for (;;) __asm__ volatile("hlt");
}
#endif
