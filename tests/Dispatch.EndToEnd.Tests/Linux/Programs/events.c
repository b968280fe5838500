/*
 * Waiting on the process's own host objects, compared with the native run: epoll over an eventfd and one end of an
 * AF_UNIX socket pair (user data passed through), send/recv and shutdown on the pair, an eventfd written by another
 * thread ending an indefinite epoll_wait, and an AF_INET pair refused (there is no networking).
 */
#include <stdio.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
static int efd;
static void *poke(void *a) { (void)a; usleep(20000); uint64_t one = 5; write(efd, &one, 8); return NULL; }
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  efd = eventfd(0, EFD_CLOEXEC); int sv[2]; socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN, .data.u64 = 0x1111222233334444ULL}; epoll_ctl(ep, EPOLL_CTL_ADD, efd, &e);
  e.data.u64 = 77; epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e);
  struct epoll_event out[4];
  printf("nothing ready: %d\n", epoll_wait(ep, out, 4, 0));
  send(sv[0], "hi", 2, 0);
  int n = epoll_wait(ep, out, 4, 100); printf("socket ready: %d data %llu\n", n, (unsigned long long)out[0].data.u64);
  char buf[8]; long r = recv(sv[1], buf, sizeof buf, 0); printf("received %ld '%.2s'\n", r, buf);
  pthread_t t; pthread_create(&t, 0, poke, 0);
  n = epoll_wait(ep, out, 4, -1); printf("eventfd ready: %d data %llx\n", n, (unsigned long long)out[0].data.u64);
  uint64_t v; read(efd, &v, 8); printf("eventfd value %llu\n", (unsigned long long)v);
  pthread_join(t, 0); shutdown(sv[0], SHUT_WR); printf("after shutdown recv %ld\n", (long)recv(sv[1], buf, 8, 0));
  printf("inet socketpair fails: %d\n", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  return 0;
}
