/* stopsig: SIGTERM and SIGINT read from a signalfd on the loop (stopsig.h). */
#include "stopsig.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

struct stopsig {
    uv_poll_t poll;
    int fd;
    stopsig_cb cb;
    void *ud;
};

static void stop_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

void stopsig_block(void)
{
    sigset_t set;
    stop_set(&set);
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    stopsig_t *s = h->data;
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(s->fd, &si, sizeof si);
        if (n != (ssize_t)sizeof si)
            return; /* EAGAIN: all read */
        s->cb((int)si.ssi_signo, s->ud);
    }
}

stopsig_t *stopsig_start(uv_loop_t *loop, stopsig_cb cb, void *ud)
{
    sigset_t set;
    stop_set(&set);
    stopsig_block(); /* a caller that forgot: the signalfd reads only blocked signals */
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        log_error("signalfd_failed", "error=\"%s\"", strerror(errno));
        return NULL;
    }
    stopsig_t *s = xcalloc(1, sizeof *s);
    s->fd = fd;
    s->cb = cb;
    s->ud = ud;
    uv_poll_init(loop, &s->poll, fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    return s;
}

static void on_closed(uv_handle_t *h)
{
    stopsig_t *s = h->data;
    close(s->fd);
    xfree(s);
}

void stopsig_close(stopsig_t *s)
{
    if (s)
        uv_close((uv_handle_t *)&s->poll, on_closed);
}
