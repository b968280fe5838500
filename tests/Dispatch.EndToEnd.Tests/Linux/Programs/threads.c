/*
 * POSIX threads as glibc makes them (clone, futexes, set_tid_address, tgkill), compared with the native run. The
 * default mode covers mutexes, condition variables, semaphores, atomics, thread-local storage, detached and nested
 * threads, threads that map and unmap memory, sleeping threads, pthread_kill with a handler (which must see and
 * restore the target thread's floating-point state, not another's), pthread_cancel, CPU-bound stretches that only
 * time slices interrupt, a spin-wait on a store made by a thread that slept first, and a reader blocked on a pipe while
 * another thread writes. The other modes end the process from a thread: "exit" (exit from a thread while the first one
 * waits), "segv" (a fault in a thread), "leader" (the first thread leaves with pthread_exit).
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { Workers = 4, Rounds = 20000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long counter;
static atomic_long atomic_counter;
static int turn;
static __thread long tls_value = 7;
static sem_t posted;
static volatile sig_atomic_t usr1_thread_ok;
static pthread_t usr1_target;
static sem_t usr1_ready;
static volatile int handler_rounding, restored_rounding;

static void *worker(void *arg)
{
    long id = (long)arg;
    tls_value = id * 10;
    for (int i = 0; i < Rounds; i++)
    {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&atomic_counter, 1);
    }
    for (int round = 0; round < 50; round++)
    {
        pthread_mutex_lock(&lock);
        while (turn % Workers != id) pthread_cond_wait(&changed, &lock);
        turn++;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
    volatile unsigned long spin = 0;
    for (int i = 0; i < 2000000; i++) spin += (unsigned long)i; /* no system call: only a time slice lets others run */
    return (void *)(tls_value + 1);
}

static void *sleeper(void *arg)
{
    usleep(20000);
    sem_post(&posted);
    return arg;
}

static void *mapper(void *arg)
{
    for (int i = 0; i < 200; i++)
    {
        char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[i * 7] = 1;
        munmap(p, 65536);
    }
    return arg;
}

static void *cancellable(void *arg)
{
    (void)arg;
    for (;;) pause(); /* a cancellation point */
    return NULL;
}

static void *nested(void *arg)
{
    long depth = (long)arg;
    if (depth == 0) return (void *)1;
    pthread_t child;
    pthread_create(&child, NULL, nested, (void *)(depth - 1));
    void *result;
    pthread_join(child, &result);
    return (void *)((long)result + 1);
}

static void on_usr1(int sig)
{
    (void)sig;
    handler_rounding = fegetround(); /* a handler starts with the initial floating-point state */
    usr1_thread_ok = pthread_equal(pthread_self(), usr1_target);
}

static void *waits_for_usr1(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD); /* this thread's own state, which the signal frame must save and restore */
    sem_post(&usr1_ready);
    while (!usr1_thread_ok) usleep(1000);
    restored_rounding = fegetround();
    return NULL;
}

static volatile int flag_set_late;

static void *sets_flag_late(void *arg)
{
    (void)arg;
    usleep(10000);
    flag_set_late = 1;
    return NULL;
}

static int pipe_fds[2];

static void *pipe_reader(void *arg)
{
    (void)arg;
    char buffer[64];
    long total = 0;
    ssize_t n;
    while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) total += n;
    return (void *)total;
}

static void *exits_process(void *arg)
{
    (void)arg;
    usleep(10000);
    printf("a thread calls exit(3)\n");
    exit(3);
}

static void *faults(void *arg)
{
    (void)arg;
    usleep(10000);
    *(volatile int *)(uintptr_t)16 = 1;
    return NULL;
}

static void *outlives_leader(void *arg)
{
    (void)arg;
    usleep(20000);
    printf("the last thread ends the process\n");
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "all";
    pthread_t threads[64];
    if (strcmp(mode, "exit") == 0 || strcmp(mode, "segv") == 0)
    {
        pthread_create(&threads[0], NULL, mode[0] == 'e' ? exits_process : faults, NULL);
        pthread_join(threads[0], NULL);
        printf("not reached\n");
        return 1;
    }
    if (strcmp(mode, "leader") == 0)
    {
        pthread_create(&threads[0], NULL, outlives_leader, NULL);
        pthread_exit(NULL);
    }

    for (long i = 0; i < Workers; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    long results = 0;
    for (int i = 0; i < Workers; i++)
    {
        void *r;
        pthread_join(threads[i], &r);
        results += (long)r;
    }
    printf("counter %ld, atomic %ld, turns %d, results %ld, main's TLS %ld\n", counter, (long)atomic_counter, turn, results, tls_value);

    sem_init(&posted, 0, 0);
    for (long i = 0; i < 64; i++) pthread_create(&threads[i], NULL, sleeper, (void *)i);
    long ids = 0;
    for (int i = 0; i < 64; i++)
    {
        void *r;
        pthread_join(threads[i], &r);
        ids += (long)r;
    }
    for (int i = 0; i < 64; i++) sem_wait(&posted);
    printf("64 sleepers joined (%ld) and posted\n", ids);

    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 10; i++)
    {
        pthread_t t;
        pthread_create(&t, &detached, sleeper, NULL);
    }
    for (int i = 0; i < 10; i++) sem_wait(&posted);
    printf("10 detached threads posted\n");

    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, mapper, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    printf("4 threads mapped and unmapped 800 regions\n");

    signal(SIGUSR1, on_usr1);
    sem_init(&usr1_ready, 0, 0);
    pthread_create(&usr1_target, NULL, waits_for_usr1, NULL);
    sem_wait(&usr1_ready);
    pthread_kill(usr1_target, SIGUSR1);
    pthread_join(usr1_target, NULL);
    printf("pthread_kill ran the handler in the target thread: %d\n", (int)usr1_thread_ok);
    printf("the handler started at round-to-nearest: %d; the thread's round-upward came back: %d; this thread's mode is its own: %d\n",
           handler_rounding == FE_TONEAREST, restored_rounding == FE_UPWARD, fegetround() == FE_TONEAREST);

    pthread_t victim;
    pthread_create(&victim, NULL, cancellable, NULL);
    usleep(5000);
    pthread_cancel(victim);
    void *cancelled;
    pthread_join(victim, &cancelled);
    printf("cancelled: %d\n", cancelled == PTHREAD_CANCELED);

    /* The first thread spins without a system call while the other sleeps: only a time slice lets it set the flag. */
    pthread_t late;
    pthread_create(&late, NULL, sets_flag_late, NULL);
    while (!flag_set_late) {}
    pthread_join(late, NULL);
    printf("a spinning thread saw a sleeping thread's store\n");

    /* A thread blocked in a host read of an empty pipe does not stop the writer. */
    pipe(pipe_fds);
    pthread_t reader;
    pthread_create(&reader, NULL, pipe_reader, NULL);
    usleep(10000);
    for (int i = 0; i < 1000; i++) write(pipe_fds[1], "0123456789", 10);
    close(pipe_fds[1]);
    void *bytes;
    pthread_join(reader, &bytes);
    printf("a reader blocked on a pipe got %ld bytes\n", (long)bytes);

    pthread_t chain;
    pthread_create(&chain, NULL, nested, (void *)20);
    void *depth;
    pthread_join(chain, &depth);
    printf("21 nested threads: %ld\n", (long)depth);
    return 0;
}
