/*
 * The real-time timer and the calls that wait for signals, compared with the native run: SIGALRM interrupting a loop that
 * makes no system call (the VMM arms the VMX-preemption timer), pause, an interrupted nanosleep, a periodic setitimer,
 * getitimer and alarm's return value, sigsuspend's temporary mask, and SIGALRM's default action.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int ticks;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

static void arm(long milliseconds, long interval_milliseconds)
{
    struct itimerval it = {{interval_milliseconds / 1000, interval_milliseconds % 1000 * 1000},
                           {milliseconds / 1000, milliseconds % 1000 * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGALRM, on_alarm);

    alarm(1);
    volatile unsigned long spins = 0;
    while (!ticks) spins++;
    printf("alarm interrupted a loop without system calls: %d\n", ticks);

    arm(100, 0);
    pause();
    printf("pause returned after the handler: %d\n", ticks);

    arm(100, 0);
    struct timespec request = {2, 0}, left = {0, 0};
    int r = nanosleep(&request, &left);
    printf("nanosleep interrupted: %d, time left between 1 and 2 s: %d\n", r, left.tv_sec == 1);

    int before = ticks;
    arm(50, 50);
    while (ticks < before + 4) pause();
    arm(0, 0);
    /* A fifth tick may land before the timer is disarmed on a loaded machine, natively as in the guest. */
    int periodic = ticks - before;
    printf("periodic timer: at least 4 ticks: %d\n", periodic >= 4 && periodic <= 5);

    alarm(100);
    struct itimerval current;
    getitimer(ITIMER_REAL, &current);
    printf("getitimer: about 100 s left: %d\n", current.it_value.tv_sec >= 98 && current.it_value.tv_sec <= 100);
    printf("alarm(0) returns about 100: %d\n", alarm(0) >= 99);

    sigset_t block, old, none, now;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    arm(100, 0);
    sigemptyset(&none);
    before = ticks;
    sigsuspend(&none);
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("sigsuspend: handler ran %d time(s), SIGALRM blocked again: %d\n", ticks - before, sigismember(&now, SIGALRM));
    sigprocmask(SIG_SETMASK, &old, NULL);

    signal(SIGALRM, SIG_DFL);
    arm(100, 0);
    for (;;) spins++;
}
