#include "wk_endpoint.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ing_net.h"

#define MAX_CONNS 16
#define HEAD_MAX 4096
#define DEADLINE_US (5 * 1000000)
#define OUT_LIMIT (4 << 20) /* a scrape is a few KiB */

typedef struct ep_conn {
    int fd; /* -1: free slot */
    char in[HEAD_MAX];
    size_t in_len;
    ing_buf_t out;
    size_t out_sent;
    bool lingering; /* answered; reading what is left until the client closes */
    int64_t deadline_us;
} ep_conn_t;

struct wk_endpoint {
    int epfd;
    int listen_fd;
    int port;
    wk_endpoint_render_fn render;
    void *arg;
    ep_conn_t conns[MAX_CONNS];
};

static void conn_close(wk_endpoint_t *ep, ep_conn_t *c)
{
    epoll_ctl(ep->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    ing_buf_reset(&c->out);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Internal Server Error";
    }
}

/* The answer to the head in c->in (complete, or too large when !complete). */
static void answer(wk_endpoint_t *ep, ep_conn_t *c, bool complete)
{
    int status = 431;
    const char *type = "text/plain; charset=utf-8", *extra = "";
    ing_buf_t body;
    ing_buf_init(&body, OUT_LIMIT);
    ing_err_t err = ING_OK;
    if (complete) {
        /* "GET /metrics HTTP/1.1": method, then the path up to a query or a space. */
        const char *line = c->in, *sp = memchr(line, ' ', c->in_len);
        size_t method_len = sp ? (size_t)(sp - line) : 0;
        const char *path = sp ? sp + 1 : "";
        size_t path_len = strcspn(path, " ?\r\n");
        bool is_get = method_len == 3 && memcmp(line, "GET", 3) == 0;
        if (path_len == 8 && memcmp(path, "/metrics", 8) == 0) {
            status = is_get ? 200 : 405;
            if (is_get) {
                type = "text/plain; version=0.0.4; charset=utf-8";
                err = ep->render(ep->arg, &body);
            }
        } else if (path_len == 8 && memcmp(path, "/healthz", 8) == 0) {
            status = is_get ? 200 : 405;
            if (is_get)
                err = ing_buf_append(&body, "ok\n", 3);
        } else {
            status = 404;
        }
        if (status == 405)
            extra = "Allow: GET\r\n";
        if (err) {
            status = 500;
            ing_buf_reset(&body);
        }
    }
    if (status != 200)
        err = ing_buf_printf(&body, "%d %s\n", status, reason(status));
    if (!err)
        err = ing_buf_printf(&c->out,
                             "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                             "Connection: close\r\n%s\r\n",
                             status, reason(status), type, body.len, extra);
    if (!err && body.len)
        err = ing_buf_append(&c->out, body.data, body.len);
    ing_buf_fini(&body);
    if (err) {
        conn_close(ep, c);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_read(wk_endpoint_t *ep, ep_conn_t *c)
{
    for (;;) {
        if (c->in_len == sizeof(c->in)) {
            answer(ep, c, false);
            return;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_close(ep, c);
            return;
        }
        size_t from = c->in_len >= 3 ? c->in_len - 3 : 0;
        c->in_len += (size_t)n;
        for (size_t i = from; i + 4 <= c->in_len; i++)
            if (memcmp(c->in + i, "\r\n\r\n", 4) == 0) {
                answer(ep, c, true);
                return;
            }
    }
}

/* Sends the answer; then a lingering close: our side shuts down, and what the client still
 * sends is read and dropped until it closes (or the deadline). Closing with unread input would
 * reset the connection, and the client could lose the answer (a 431 to an oversized head). */
static void conn_linger(wk_endpoint_t *ep, ep_conn_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_close(ep, c);
            return;
        }
    }
}

static void conn_write(wk_endpoint_t *ep, ep_conn_t *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_close(ep, c);
            return;
        }
        c->out_sent += (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (shutdown(c->fd, SHUT_WR) != 0 || epoll_ctl(ep->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_close(ep, c);
        return;
    }
    c->lingering = true;
    conn_linger(ep, c);
}

static void on_accept(wk_endpoint_t *ep, int64_t now_us)
{
    for (;;) {
        int fd = accept4(ep->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a connection that went away: the next event retries */
        ep_conn_t *c = NULL;
        for (size_t i = 0; i < MAX_CONNS && !c; i++)
            if (ep->conns[i].fd < 0)
                c = &ep->conns[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd); /* over the cap: operators' scrapers retry */
            continue;
        }
        c->fd = fd;
        c->in_len = 0;
        c->out_sent = 0;
        c->lingering = false;
        c->deadline_us = now_us + DEADLINE_US;
    }
}

void wk_endpoint_handle(wk_endpoint_t *ep, void *tag, uint32_t events, int64_t now_us)
{
    if (tag == ep) {
        on_accept(ep, now_us);
        return;
    }
    ep_conn_t *c = tag;
    if (c->fd < 0)
        return;
    if (c->lingering)
        conn_linger(ep, c);
    else if (c->out.len)
        conn_write(ep, c);
    else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(ep, c);
}

void wk_endpoint_sweep(wk_endpoint_t *ep, int64_t now_us)
{
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (ep->conns[i].fd >= 0 && now_us >= ep->conns[i].deadline_us)
            conn_close(ep, &ep->conns[i]);
}

int wk_endpoint_port(const wk_endpoint_t *ep)
{
    return ep->port;
}

ing_err_t wk_endpoint_create(const char *listen_addr, int epfd, wk_endpoint_render_fn render,
                             void *arg, wk_endpoint_t **out, char *errstr, size_t errstr_size)
{
    struct addrinfo *res;
    ing_err_t err =
        ing_net_resolve("worker.metrics_listen", listen_addr, &res, errstr, errstr_size);
    if (err)
        return err;
    wk_endpoint_t *ep = calloc(1, sizeof(*ep));
    if (!ep) {
        freeaddrinfo(res);
        return ING_ERR_NOMEM;
    }
    ep->epfd = epfd;
    ep->render = render;
    ep->arg = arg;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        ep->conns[i].fd = -1;
        ing_buf_init(&ep->conns[i].out, OUT_LIMIT);
    }
    int one = 1;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    ep->listen_fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ep};
    if (ep->listen_fd < 0 ||
        setsockopt(ep->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(ep->listen_fd, res->ai_addr, res->ai_addrlen) != 0 || listen(ep->listen_fd, 64) != 0 ||
        getsockname(ep->listen_fd, (struct sockaddr *)&bound, &bound_len) != 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, ep->listen_fd, &ev) != 0) {
        snprintf(errstr, errstr_size, "worker.metrics_listen %s: %s", listen_addr, strerror(errno));
        freeaddrinfo(res);
        if (ep->listen_fd >= 0)
            close(ep->listen_fd);
        ep->listen_fd = -1;
        wk_endpoint_destroy(ep);
        return ING_ERR_IO;
    }
    freeaddrinfo(res);
    ep->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    *out = ep;
    return ING_OK;
}

void wk_endpoint_destroy(wk_endpoint_t *ep)
{
    if (!ep)
        return;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (ep->conns[i].fd >= 0)
            conn_close(ep, &ep->conns[i]);
        ing_buf_fini(&ep->conns[i].out);
    }
    if (ep->listen_fd >= 0) {
        epoll_ctl(ep->epfd, EPOLL_CTL_DEL, ep->listen_fd, NULL);
        close(ep->listen_fd);
    }
    free(ep);
}
