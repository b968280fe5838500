/* String and memory routines, printf of integers, qsort, malloc and free, setjmp/longjmp, command-line arguments, a file
   read with stdio, and a non-zero exit status (3). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static jmp_buf jump;
static void deep(int n) { if (n == 0) longjmp(jump, 7); deep(n - 1); }

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=\"%s\" (%zu)\n", i, argv[i], strlen(argv[i]));

    char buf[64];
    strcpy(buf, "Hello");
    strcat(buf, ", world");
    printf("%s|%d|%s|%s\n", buf, strcmp(buf, "Hello"), strchr(buf, 'w'), strstr(buf, "lo,"));
    memset(buf, 'z', 10);
    buf[10] = 0;
    memmove(buf + 2, buf, 5);
    printf("%s %d %d\n", buf, memcmp("abc", "abd", 3) < 0, (int)strspn("aaab", "a"));
    printf("%d %u %ld %lld %x %o %5d|%-5d|%05d %c %%\n", -42, 42u, -1234567890123L, 9223372036854775807LL, 0xBEEF, 8, 3, 3, 3, 'q');

    int values[] = { 5, -3, 99, 0, 42, 7, -100, 13 };
    qsort(values, 8, sizeof values[0], compare);
    for (int i = 0; i < 8; i++) printf("%d%c", values[i], i == 7 ? '\n' : ' ');

    long total = 0;
    for (int round = 0; round < 200; round++)
    {
        char *blocks[16];
        for (int i = 0; i < 16; i++) { blocks[i] = malloc(16 + i * 97 + round); memset(blocks[i], i, 16); }
        for (int i = 0; i < 16; i += 2) free(blocks[i]);
        for (int i = 1; i < 16; i += 2) { total += blocks[i][5]; free(blocks[i]); }
    }
    char *big = malloc(1 << 20);
    big[(1 << 20) - 1] = 1;
    free(big);
    printf("malloc total=%ld\n", total);

    int r = setjmp(jump);
    if (r == 0) deep(10);
    printf("longjmp returned %d\n", r);

    if (argc > 1)
    {
        FILE *f = fopen(argv[1], "r");
        if (!f) { perror("fopen"); return 1; }
        char line[128];
        int lines = 0;
        while (fgets(line, sizeof line, f)) printf("%d: %s", ++lines, line);
        fclose(f);
    }
    fprintf(stderr, "done\n");
    return 3;
}
