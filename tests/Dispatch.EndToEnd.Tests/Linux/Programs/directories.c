/*
 * The working directory: chdir and fchdir change the guest's (never the VMM's), relative paths and getcwd follow it,
 * and a directory listing of "." shows what was created there. The argument is a directory to work in.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    int original = open(".", O_RDONLY | O_DIRECTORY);
    if (chdir(argv[1]) != 0) return 3;
    mkdir("sub", 0755);
    if (chdir("sub") != 0) return 4;
    char cwd[4096];
    getcwd(cwd, sizeof cwd);
    size_t base = strlen(argv[1]);
    printf("getcwd ends in /sub and starts with the argument: %d\n", strncmp(cwd, argv[1], base) == 0 && strcmp(cwd + base, "/sub") == 0);
    FILE *f = fopen("made-here.txt", "w");
    fputs("relative\n", f);
    fclose(f);
    symlink("made-here.txt", "link.txt");
    char *names[16];
    int count = 0;
    DIR *d = opendir(".");
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 16)
        if (e->d_name[0] != '.') names[count++] = strdup(e->d_name);
    closedir(d);
    qsort(names, count, sizeof names[0], compare);
    for (int i = 0; i < count; i++) printf("entry %s\n", names[i]);
    if (chdir("..") != 0) return 5;
    struct stat st;
    printf("sub/made-here.txt from the parent: %d bytes\n", stat("sub/made-here.txt", &st) == 0 ? (int)st.st_size : -1);
    if (fchdir(original) != 0) return 6;
    printf("back in the original directory: %d\n", access("sub/made-here.txt", F_OK) != 0);
    printf("chdir to a file fails: %d\n", chdir("/proc/self/exe") != 0);
    unlink(strcat(strcpy(cwd, argv[1]), "/sub/link.txt"));
    unlink(strcat(strcpy(cwd, argv[1]), "/sub/made-here.txt"));
    rmdir(strcat(strcpy(cwd, argv[1]), "/sub"));
    return 0;
}
