/*
 * select and pselect over a pipe, compared with the native run: readiness without waiting, a timeout with the time left
 * written back, a wait that another thread's write ends, a descriptor that is not open (EBADF), and pselect.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/select.h>
#include <unistd.h>

static int fds[2];

static void *writer(void *arg)
{
    (void)arg;
    usleep(20000);
    write(fds[1], "x", 1);
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pipe(fds);
    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_SET(fds[0], &readable);
    FD_SET(fds[1], &writable);
    struct timeval tv = {0, 0};
    int n = select(fds[1] + 1, &readable, &writable, NULL, &tv);
    printf("empty pipe: %d ready, readable %d, writable %d\n", n, FD_ISSET(fds[0], &readable), FD_ISSET(fds[1], &writable));

    tv = (struct timeval){0, 30000};
    FD_ZERO(&readable);
    FD_SET(fds[0], &readable);
    n = select(fds[0] + 1, &readable, NULL, NULL, &tv);
    printf("timeout: %d, time left written back: %d\n", n, tv.tv_sec == 0 && tv.tv_usec < 30000);

    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    FD_ZERO(&readable);
    FD_SET(fds[0], &readable);
    n = select(fds[0] + 1, &readable, NULL, NULL, NULL);
    printf("after another thread wrote: %d, readable %d\n", n, FD_ISSET(fds[0], &readable));
    pthread_join(t, NULL);

    FD_ZERO(&readable);
    FD_SET(77, &readable);
    tv = (struct timeval){0, 0};
    n = select(78, &readable, NULL, NULL, &tv);
    printf("descriptor 77: %d, errno %d\n", n, errno);

    struct timespec ts = {0, 1000000};
    FD_ZERO(&readable);
    FD_SET(fds[0], &readable);
    n = pselect(fds[0] + 1, &readable, NULL, NULL, &ts, NULL);
    printf("pselect: %d\n", n);
    return 0;
}
