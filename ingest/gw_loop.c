#include "gw_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_api.h"
#include "gw_http.h"
#include "gw_ratelimit.h"
#include "ing_log.h"
#include "ing_time.h"

#define OUT_LIMIT (1024 * 1024)
#define OUT_KEEP 4096 /* a written response buffer larger than this is freed, not kept */
#define MAX_EVENTS 128
#define FLUSH_MAX_MS 5000

/* epoll_data.u64: tag in the high 8 bits, the connection slot's generation in the next 24
 * (an event returned for a socket closed earlier in the same batch must not reach the
 * connection that reused its slot), the slot index in the low 32. */
enum { TAG_LISTEN = 1, TAG_STOP, TAG_KAFKA, TAG_KAFKA_INBOX, TAG_PG, TAG_CONN };
#define EV_DATA(tag, gen, idx)                                                                     \
    ((uint64_t)(tag) << 56 | (uint64_t)((gen)&0xffffff) << 32 | (uint32_t)(idx))

enum { T_NONE = -1, T_IDLE = 0, T_HEADER, T_REQUEST, T__COUNT };

typedef enum {
    C_FREE,
    C_READ,   /* reading a request (or idle between requests) */
    C_WAIT,   /* the API has the request; nothing is read meanwhile */
    C_WRITE,  /* writing the response */
    C_LINGER, /* response sent, write side shut: reading and discarding until EOF */
} conn_state_t;

struct gw_conn {
    gw_loop_t *loop;
    uint32_t idx;
    uint32_t gen; /* incremented at each accept into this slot */
    conn_state_t state;
    int fd;
    uint32_t events; /* registered interest */
    ing_buf_t in;
    ing_buf_t out;
    size_t out_sent;
    gw_auth_peer_t peer;
    gw_tls_conn_t *tls; /* NULL on a plain-HTTP listener */
    bool handshaking;   /* TLS: until the handshake is done (bounded by the header timer) */
    uint32_t tls_want;  /* TLS: the other direction the last read or write waits for */
    /* The current request. */
    gw_auth_id_t id;
    int head_len;      /* > 0 once its head is complete */
    size_t body_total; /* head + Content-Length: what the buffer must hold (0: chunked) */
    gw_http_body_t body;
    bool keep_alive;
    bool http10;
    bool close_after; /* close once out is written */
    bool linger;      /* ... after reading what the client may still send */
    uint32_t request_seq;
    gw_route_t route; /* for the request counters */
    /* Timer list membership. */
    int timer;
    int64_t deadline_us;
    int64_t body_start_us; /* when the current request's head completed */
    gw_conn_t *tprev, *tnext;
    bool in_drive;
    gw_conn_t *next_free;
};

typedef struct gw_deferred {
    struct gw_deferred *next;
    int64_t due_us;
    gw_defer_fn *fn;
    void *arg;
} gw_deferred_t;

typedef struct timer_list {
    gw_conn_t *head, *tail;
    int64_t duration_us;
} timer_list_t;

struct gw_loop {
    gw_loop_conf_t conf;
    gw_auth_conf_t auth;
    gw_http_limits_t limits;
    int epfd;
    int stop_fd;
    int listen_fd;
    gw_producer_lane_t *lane; /* into the process's one producer */
    gw_status_t *status;
    gw_conn_t *conns;
    gw_conn_t *free_list;
    size_t live;
    timer_list_t timers[T__COUNT];
    gw_deferred_t *deferred_head, *deferred_tail; /* FIFO = deadline order (one delay) */
    int64_t now_us;
    uint32_t next_seq;
    bool stopping;
    int64_t drain_deadline_us;
    gw_thread_metrics_t *metrics;
    /* Backpressure: bytes held for requests, checked when a request's head completes. */
    size_t buffered_bytes;    /* sum of the connections' read buffer capacities */
    size_t kafka_bytes;       /* records produced and not yet reported */
    size_t inflight_cap;      /* this thread's share of gateway.max_inflight_bytes */
    struct gw_api_state *api; /* rate limits, waiting requests (gw_api) */
    int64_t kafka_served_us;  /* last gw_producer_serve */
    time_t date_sec;          /* the second date was rendered for */
    char date[GW_RESPONSE_DATE_SIZE];
};

static void conn_drive(gw_conn_t *c);
static bool conn_fill(gw_conn_t *c);

/* ---- timers ---- */

static void timer_unlink(gw_conn_t *c)
{
    if (c->timer == T_NONE)
        return;
    timer_list_t *l = &c->loop->timers[c->timer];
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->timer = T_NONE;
}

/* Appending now + a constant duration keeps each list sorted by deadline. */
static void timer_set(gw_conn_t *c, int kind)
{
    timer_unlink(c);
    timer_list_t *l = &c->loop->timers[kind];
    c->timer = kind;
    c->deadline_us = c->loop->now_us + l->duration_us;
    c->tprev = l->tail;
    c->tnext = NULL;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
}

/* ---- connections ---- */

static void set_events(gw_conn_t *c, uint32_t events)
{
    events |= c->tls_want; /* a TLS read may wait for writability, a write for readability */
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.u64 = EV_DATA(TAG_CONN, c->gen, c->idx)};
    if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

/*
 * The read buffer's allocation changes only through these, so that loop->buffered_bytes is
 * exactly what the connections hold (capacity, not bytes received: a reservation is memory).
 * They size it exactly (ing_buf_reserve doubles), because here the size is known.
 */
static ing_err_t in_resize(gw_conn_t *c, size_t hold)
{
    size_t cap = hold + 1; /* ing_buf keeps room for a NUL */
    uint8_t *d = realloc(c->in.data, cap);
    if (!d)
        return ING_ERR_NOMEM;
    c->loop->buffered_bytes = c->loop->buffered_bytes - c->in.cap + cap;
    c->in.data = d;
    c->in.cap = cap;
    return ING_OK;
}

static void in_release(gw_conn_t *c)
{
    c->loop->buffered_bytes -= c->in.cap;
    ing_buf_fini(&c->in);
}

/* Between requests a connection keeps no buffer, or only what a pipelined request holds. */
static void in_trim(gw_conn_t *c)
{
    if (c->in.len == 0) {
        in_release(c);
        return;
    }
    size_t keep = c->in.len > GW_HEAD_READ ? c->in.len : GW_HEAD_READ;
    if (c->in.cap > keep + 1 && in_resize(c, keep) != ING_OK)
        return; /* a failed shrink keeps the larger buffer, still accounted */
}

static void in_consume(gw_conn_t *c, size_t n)
{
    ing_buf_consume(&c->in, n);
    in_trim(c);
}

/*
 * How many bytes the read buffer should be able to hold for the next read: the head within
 * its cap, then exactly head + Content-Length, or for a chunked body half as much again as it
 * holds (each growth is admitted against max_inflight_bytes in conn_fill). Never past
 * in.limit (max_header_bytes + max_body_bytes: beyond it, 413).
 */
size_t gw_read_want(size_t buffered, size_t head_len, size_t body_total, size_t max_head,
                    size_t limit)
{
    size_t want;
    if (head_len == 0) {
        want = buffered < GW_HEAD_READ ? GW_HEAD_READ : 2 * buffered;
        if (want > max_head + 1 && buffered < max_head + 1)
            want = max_head + 1; /* enough to see a head over its cap */
    } else if (body_total > buffered) {
        want = body_total;
    } else {
        want = buffered + (buffered / 2 > GW_HEAD_READ ? buffered / 2 : GW_HEAD_READ);
    }
    return want < limit ? want : limit;
}

static size_t in_want(const gw_conn_t *c)
{
    return gw_read_want(c->in.len, c->head_len, c->body_total, c->loop->limits.max_head_bytes,
                        c->in.limit);
}

void gw_loop_kafka_bytes(gw_loop_t *loop, long long delta)
{
    loop->kafka_bytes = (size_t)((long long)loop->kafka_bytes + delta);
}

int gw_inflight_admit(size_t held, size_t extra, size_t own, size_t cap)
{
    if (own > cap)
        return 413; /* would not fit even alone: a 503 would have the client retry forever */
    return held + extra <= cap ? 0 : 503;
}

/* gw_inflight_admit for `extra` more bytes of c's read buffer; answers the refusal. */
static bool inflight_admit(gw_conn_t *c, size_t extra, gw_problem_t *p)
{
    gw_loop_t *loop = c->loop;
    int v = gw_inflight_admit(loop->buffered_bytes + loop->kafka_bytes, extra, c->in.cap + extra,
                              loop->inflight_cap);
    if (v == 0)
        return true;
    if (v == 503) {
        gw_metrics_unavailable(loop->metrics, GW_UNAVAIL_INFLIGHT_BYTES);
        gw_problem_http(p, 503, "too many bytes in flight; retry later");
    } else {
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "the request needs more than the %zu bytes a gateway thread holds at once",
                 loop->inflight_cap);
        gw_problem_http(p, v, detail);
    }
    return false;
}

/* Admission of a request with a body, before reading it: refused (503) while this thread
 * holds too much for requests in flight or Kafka is not keeping up, or (413) when it could
 * never fit. `extra`: what reading its body adds to the buffer the connection holds already. */
static bool admit_body(gw_conn_t *c, size_t extra, gw_problem_t *p)
{
    gw_loop_t *loop = c->loop;
    bool fits_alone = c->in.cap + extra <= loop->inflight_cap; /* else its 413, even now */
    if (fits_alone && loop->kafka_bytes > (size_t)loop->conf.settings->kafka_high_water_bytes) {
        gw_metrics_unavailable(loop->metrics, GW_UNAVAIL_KAFKA_BACKLOG);
        gw_problem_http(p, 503, "Kafka is not keeping up; retry later");
        return false;
    }
    return inflight_admit(c, extra, p);
}

static void reset_request(gw_conn_t *c)
{
    c->head_len = 0;
    c->body_total = 0;
    c->request_seq = 0;
    c->route = GW_ROUTE_OTHER;
    c->keep_alive = false;
    c->http10 = false;
    memset(&c->id, 0, sizeof(c->id));
    gw_http_body_init(&c->body);
}

static void conn_close(gw_conn_t *c)
{
    gw_loop_t *loop = c->loop;
    timer_unlink(c);
    gw_tls_conn_destroy(c->tls, !c->handshaking);
    c->tls = NULL;
    c->handshaking = false;
    c->tls_want = 0;
    close(c->fd); /* also removes it from the epoll set */
    in_release(c);
    ing_buf_fini(&c->out);
    c->fd = -1;
    c->state = C_FREE;
    reset_request(c);
    c->next_free = loop->free_list;
    loop->free_list = c;
    loop->live--;
}

/* Lingering close: shut our side and read until the client is done, so that it gets the
 * response we wrote instead of a reset caused by its unread upload. */
static void conn_linger(gw_conn_t *c)
{
    gw_tls_conn_destroy(c->tls, true); /* close_notify; what follows is discarded unread */
    c->tls = NULL;
    c->tls_want = 0;
    shutdown(c->fd, SHUT_WR);
    in_release(c);
    c->state = C_LINGER;
    set_events(c, EPOLLIN);
    timer_set(c, T_HEADER);
}

/* @returns 1 when everything is written, 0 when the socket is full, -1 on error. */
static int conn_flush(gw_conn_t *c)
{
    while (c->out_sent < c->out.len) {
        if (c->tls) {
            ssize_t n = gw_tls_write(c->tls, c->out.data + c->out_sent, c->out.len - c->out_sent);
            if (n == GW_TLS_WANT_READ)
                c->tls_want = EPOLLIN;
            if (n == GW_TLS_WANT_READ || n == GW_TLS_WANT_WRITE)
                return 0;
            if (n < 0)
                return -1;
            c->out_sent += (size_t)n;
            continue;
        }
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->out_sent += (size_t)n;
    }
    if (c->out.cap > OUT_KEEP)
        ing_buf_fini(&c->out); /* e.g. /metrics: an idle connection keeps no large buffer */
    else
        ing_buf_reset(&c->out);
    c->out_sent = 0;
    return 1;
}

/* The last step of every answer: the connection writes it from conn_drive. */
static void respond_end(gw_conn_t *c, int status, ing_err_t render_err, bool keep_alive)
{
    gw_metrics_count_request(c->loop->metrics, c->route, status);
    if (render_err) {
        ing_log(ING_LOG_ERROR, "loop", "thread=%d cannot render a response: %s",
                c->loop->conf.thread_no, ing_err_name(render_err));
        keep_alive = false;
    }
    if (!keep_alive)
        c->close_after = true;
    if (c->timer == T_NONE)
        timer_set(c, T_REQUEST); /* a held request (gw_conn_hold): bounds the write */
    c->state = C_WRITE;
    c->request_seq = 0;
    if (!c->in_drive)
        conn_drive(c);
}

static bool answer_keeps_alive(const gw_conn_t *c)
{
    return c->keep_alive && !c->close_after && !c->loop->stopping;
}

/* How c's answer ends: the Date of this second (rendered once per second per loop) and
 * whether the connection stays open. */
static gw_response_head_t answer_head(gw_conn_t *c)
{
    gw_loop_t *l = c->loop;
    time_t now = time(NULL);
    if (now != l->date_sec) {
        l->date_sec = now;
        gw_response_date(now, l->date);
    }
    return (gw_response_head_t){
        .date = l->date, .keep_alive = answer_keeps_alive(c), .http10 = c->http10};
}

static void respond_problem(gw_conn_t *c, const gw_problem_t *p)
{
    gw_response_head_t head = answer_head(c);
    respond_end(c, p->status, gw_response_problem(&c->out, p, &head), head.keep_alive);
}

/* A request that cannot be read to its end: answer and close after a lingering read. */
static void fail_request(gw_conn_t *c, int status, const char *detail)
{
    gw_problem_t p;
    gw_problem_http(&p, status, detail);
    c->close_after = true;
    c->linger = true;
    respond_problem(c, &p);
}

void gw_conn_respond(gw_conn_t *c, int status, const char *content_type, const void *body,
                     size_t body_len, const char *extra_headers)
{
    if (c->state != C_WAIT)
        return; /* answered already (request timeout) */
    gw_response_head_t head = answer_head(c);
    respond_end(
        c, status,
        gw_response_write(&c->out, status, content_type, body, body_len, extra_headers, &head),
        head.keep_alive);
}

void gw_conn_respond_problem(gw_conn_t *c, const gw_problem_t *p)
{
    if (c->state != C_WAIT)
        return;
    respond_problem(c, p);
}

uint64_t gw_conn_request_handle(const gw_conn_t *c)
{
    return (uint64_t)c->idx << 32 | c->request_seq;
}

gw_conn_t *gw_loop_waiting_conn(gw_loop_t *loop, uint64_t handle)
{
    uint32_t idx = (uint32_t)(handle >> 32), seq = (uint32_t)handle;
    if (idx >= loop->conf.max_connections || seq == 0)
        return NULL;
    gw_conn_t *c = &loop->conns[idx];
    return c->state == C_WAIT && c->request_seq == seq ? c : NULL;
}

const gw_auth_id_t *gw_conn_identity(const gw_conn_t *c)
{
    return &c->id;
}

/*
 * Parses what the buffer holds. Returns true when the connection changed state (the caller
 * goes on driving it), false when it needs more bytes.
 */
static bool conn_process_input(gw_conn_t *c)
{
    gw_loop_t *loop = c->loop;
    uint32_t want = EPOLLIN | (c->out.len > c->out_sent ? EPOLLOUT : 0);
    if (c->in.len == 0) {
        set_events(c, want);
        return false;
    }
    if (c->head_len == 0 && c->timer != T_HEADER)
        timer_set(c, T_HEADER); /* from the first byte: a slow sender cannot stretch it */
    gw_http_request_t req;
    int status;
    int h = gw_http_parse_head((const char *)c->in.data, c->in.len, &loop->limits, &req, &status);
    if (h == -2) {
        set_events(c, want);
        return false;
    }
    if (h < 0) {
        fail_request(c, status, NULL);
        return true;
    }
    if (c->head_len == 0) {
        /* The head just completed: the request's deadline starts now. */
        c->head_len = h;
        c->keep_alive = req.keep_alive;
        c->http10 = req.minor_version == 0;
        gw_http_body_init(&c->body);
        timer_set(c, T_REQUEST);
        c->route = gw_api_route(&req);
        gw_problem_t p;
        bool has_body = req.chunked || req.content_length > 0;
        c->body_start_us = loop->now_us;
        /* The parser bounds Content-Length by max_body (413): the sum cannot overflow. */
        c->body_total = req.content_length > 0 ? (size_t)h + (size_t)req.content_length : 0;
        size_t extra = c->body_total + 1 > c->in.cap ? c->body_total + 1 - c->in.cap : 0;
        if (!gw_api_precheck(&req, &loop->auth, &c->peer, &c->id, &p) ||
            (has_body && (!admit_body(c, extra, &p) || !gw_api_admit_body(loop, c, &req, &p)))) {
            if (has_body) {
                c->close_after = true; /* its body is not read: do not guess where it ends */
                c->linger = true;
            } else {
                in_consume(c, (size_t)h);
            }
            c->head_len = 0;
            c->body_total = 0;
            respond_problem(c, &p);
            return true;
        }
        /* Admitted: the whole body's buffer is taken now, under the cap just checked. */
        if (extra > 0 && in_resize(c, c->body_total) != ING_OK) {
            ing_log(ING_LOG_WARN, "loop", "thread=%d out of memory for a request body",
                    loop->conf.thread_no);
            conn_close(c);
            return false;
        }
        if (req.expect_continue && has_body && c->in.len == (size_t)h) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (ing_buf_append(&c->out, cont, sizeof(cont) - 1) == ING_OK && conn_flush(c) < 0) {
                conn_close(c);
                return false;
            }
            want = EPOLLIN | (c->out.len > c->out_sent ? EPOLLOUT : 0);
        }
    }
    char *raw = (char *)c->in.data + h;
    ssize_t b =
        gw_http_body_scan(&c->body, &req, raw, c->in.len - (size_t)h, &loop->limits, &status);
    if (b == -2) {
        const gw_settings_t *s = loop->conf.settings;
        if (gw_ratelimit_body_too_slow(c->in.len - (size_t)h, loop->now_us - c->body_start_us,
                                       s->min_body_rate_bytes_per_s,
                                       s->body_rate_grace_ms * 1000)) {
            gw_metrics_add(&loop->metrics->timeouts_408[GW_408_SLOW_BODY], 1);
            fail_request(c, 408, "the body arrives too slowly");
            return true;
        }
        set_events(c, want);
        return false;
    }
    if (b < 0) {
        fail_request(c, status, NULL);
        return true;
    }
    size_t body_len = req.chunked ? gw_http_chunked_decode(raw, (size_t)b) : (size_t)b;
    c->state = C_WAIT;
    if (++loop->next_seq == 0)
        loop->next_seq = 1;
    c->request_seq = loop->next_seq;
    /* Reading stops while the API has the request, but the interest is dropped only if the
     * socket signals (conn_on_event): a closed-loop client sends nothing meanwhile, so the
     * request costs no epoll_ctl at all. */
    gw_api_handle(loop, c, &req, raw, body_len);
    if (c->state == C_FREE)
        return false;
    in_consume(c, (size_t)h + (size_t)b); /* frees the buffer while the API has the request */
    c->head_len = 0;
    c->body_total = 0;
    return true;
}

static void conn_drive(gw_conn_t *c)
{
    c->in_drive = true;
    for (;;) {
        switch (c->state) {
        case C_FREE:
        case C_LINGER:
            goto out;
        case C_WAIT:
            goto out;
        case C_WRITE: {
            int r = conn_flush(c);
            if (r < 0) {
                conn_close(c);
                goto out;
            }
            if (r == 0) {
                set_events(c, EPOLLOUT);
                goto out;
            }
            if (c->close_after) {
                if (c->linger)
                    conn_linger(c);
                else
                    conn_close(c);
                goto out;
            }
            c->state = C_READ;
            reset_request(c);
            in_trim(c); /* e.g. after a refused request whose head stayed in the buffer */
            timer_set(c, c->in.len ? T_HEADER : T_IDLE);
            continue;
        }
        case C_READ:
            if (c->out.len > c->out_sent && conn_flush(c) < 0) {
                conn_close(c);
                goto out;
            }
            if (!conn_process_input(c)) {
                /* Decrypted bytes OpenSSL already holds will not wake epoll up: read them. */
                bool more =
                    c->state == C_READ && c->tls && gw_tls_pending(c->tls) > 0 && conn_fill(c);
                if (!more && c->state == C_READ)
                    goto out;
            }
            continue;
        }
    }
out:
    c->in_drive = false;
}

/* One read from the socket (through TLS when there is a session).
 * @returns bytes (> 0), 0 when nothing is there now, -1 when the connection is over. */
static ssize_t conn_recv(gw_conn_t *c, void *buf, size_t len)
{
    if (!c->tls) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        return n > 0 ? n : -1;
    }
    ssize_t n = gw_tls_read(c->tls, buf, len);
    if (n > 0 || n == GW_TLS_WANT_READ)
        return n > 0 ? n : 0;
    if (n == GW_TLS_WANT_WRITE) {
        c->tls_want = EPOLLOUT;
        set_events(c, c->events);
        return 0;
    }
    if (n == GW_TLS_ERROR)
        ing_log(ING_LOG_DEBUG, "loop", "thread=%d TLS read: %s", c->loop->conf.thread_no,
                gw_tls_last_error(c->tls));
    return -1;
}

/* Reads what the socket offers into the request buffer; on a failure the connection is
 * answered (413) or closed. @returns true when bytes came in. */
static bool conn_fill(gw_conn_t *c)
{
    gw_loop_t *loop = c->loop;
    size_t want = in_want(c);
    if (want <= c->in.len) {
        char detail[96];
        snprintf(detail, sizeof(detail), "the request is larger than %zu bytes", c->in.limit);
        fail_request(c, 413, detail);
        return false;
    }
    size_t room = want - c->in.len;
    gw_problem_t p;
    if (want + 1 > c->in.cap && c->head_len > 0 && !inflight_admit(c, want + 1 - c->in.cap, &p)) {
        /* A chunked body grows past what this thread may hold: refused mid-body. */
        fail_request(c, p.status, p.detail);
        return false;
    }
    uint8_t *w;
    if ((want + 1 > c->in.cap && in_resize(c, want) != ING_OK) ||
        ing_buf_reserve(&c->in, room, &w) != ING_OK) {
        ing_log(ING_LOG_WARN, "loop", "thread=%d out of memory for a read buffer",
                loop->conf.thread_no);
        conn_close(c);
        return false;
    }
    ssize_t n = conn_recv(c, w, room);
    if (n == 0)
        return false;
    if (n < 0) {
        conn_close(c); /* the peer left, between requests or in the middle of one */
        return false;
    }
    ing_buf_commit(&c->in, (size_t)n);
    gw_metrics_add(&loop->metrics->bytes_in, (uint64_t)n);
    return true;
}

static void conn_on_readable(gw_conn_t *c)
{
    if (c->state == C_LINGER) {
        char sink[16384];
        ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    if (c->state != C_READ)
        return;
    if (conn_fill(c))
        conn_drive(c);
}

/* Advances the TLS handshake; once done, maps the client certificate to its organisation. */
static void conn_handshake(gw_conn_t *c)
{
    gw_loop_t *loop = c->loop;
    int r = gw_tls_handshake(c->tls);
    if (r == GW_TLS_WANT_READ || r == GW_TLS_WANT_WRITE) {
        set_events(c, r == GW_TLS_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }
    if (r != 1) {
        gw_metrics_add(&loop->metrics->tls_handshake_fails, 1);
        ing_log(ING_LOG_DEBUG, "loop", "thread=%d TLS handshake failed: %s", loop->conf.thread_no,
                gw_tls_last_error(c->tls));
        conn_close(c);
        return;
    }
    c->handshaking = false;
    uint8_t fp[ING_SHA256_LEN];
    bool cert = gw_tls_peer_fingerprint(c->tls, fp);
    gw_auth_peer_set_cert(&c->peer, loop->conf.orgs, cert ? fp : NULL);
    ing_log(ING_LOG_DEBUG, "loop", "thread=%d %s established, client certificate: %s",
            loop->conf.thread_no, gw_tls_version(c->tls),
            !cert                 ? "none"
            : c->peer.cert_org[0] ? c->peer.cert_org
                                  : "not registered");
    set_events(c, EPOLLIN);
    conn_on_readable(c); /* the request may have come with the handshake's last flight */
}

static void conn_on_event(gw_conn_t *c, uint32_t events)
{
    if (c->state == C_FREE)
        return;
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_close(c);
        return;
    }
    if (c->handshaking) {
        conn_handshake(c);
        return;
    }
    if (c->state == C_WAIT) {
        c->tls_want = 0; /* nothing is read meanwhile: stop the level-triggered wake-ups */
        set_events(c, 0);
        return;
    }
    if (c->tls_want & events) {
        /* The direction a TLS read or write waited for: retry both. */
        c->tls_want = 0;
        events |= EPOLLIN | EPOLLOUT;
    }
    if (events & EPOLLOUT)
        conn_drive(c);
    if ((events & EPOLLIN) && c->state != C_FREE)
        conn_on_readable(c);
}

static void conn_on_timeout(gw_conn_t *c)
{
    int kind = c->timer;
    timer_unlink(c);
    switch (c->state) {
    case C_FREE:
        return;
    case C_LINGER:
    case C_WRITE:
        conn_close(c);
        return;
    case C_READ:
        if (kind == T_IDLE || (c->in.len == 0 && c->head_len == 0)) {
            conn_close(c);
            return;
        }
        gw_metrics_add(&c->loop->metrics->timeouts_408[GW_408_HEADER], 1);
        fail_request(c, 408, "the request was not received in time");
        return;
    case C_WAIT: {
        gw_problem_t p;
        gw_problem_from_err(&p, ING_ERR_UNAVAILABLE, "",
                            "the request could not be completed in time; retry later");
        gw_metrics_unavailable(c->loop->metrics, GW_UNAVAIL_TIMEOUT);
        timer_set(c, T_REQUEST); /* bounds the write of this answer */
        gw_conn_respond_problem(c, &p);
        return;
    }
    }
}

static void reject_connection(int fd)
{
    char date[GW_RESPONSE_DATE_SIZE];
    gw_response_date(time(NULL), date);
    const gw_response_head_t head = {.date = date, .keep_alive = false};
    ing_buf_t out;
    ing_buf_init(&out, OUT_LIMIT);
    gw_problem_t p;
    gw_problem_http(&p, 503, "too many connections");
    if (gw_response_problem(&out, &p, &head) == ING_OK)
        (void)!send(fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    ing_buf_fini(&out);
    close(fd);
}

static void on_accept(gw_loop_t *loop)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(loop->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                ing_log(ING_LOG_WARN, "loop", "thread=%d accept: %s", loop->conf.thread_no,
                        strerror(errno));
            return;
        }
        gw_conn_t *c = loop->free_list;
        if (!c) {
            gw_metrics_unavailable(loop->metrics, GW_UNAVAIL_CONNECTIONS);
            if (loop->conf.tls)
                close(fd); /* a plain-text 503 means nothing to a TLS client */
            else
                reject_connection(fd);
            continue;
        }
        gw_tls_conn_t *tls = NULL;
        if (loop->conf.tls && !(tls = gw_tls_conn_create(loop->conf.tls, fd))) {
            ing_log(ING_LOG_WARN, "loop", "thread=%d out of memory for a TLS session",
                    loop->conf.thread_no);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->gen++;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_DATA(TAG_CONN, c->gen, c->idx)};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            gw_tls_conn_destroy(tls, false);
            close(fd);
            continue;
        }
        loop->free_list = c->next_free;
        c->next_free = NULL;
        c->fd = fd;
        c->events = EPOLLIN;
        c->state = C_READ;
        c->close_after = c->linger = false;
        c->out_sent = 0;
        c->peer =
            (gw_auth_peer_t){.listener_loopback = loop->conf.listener_loopback, .tls = tls != NULL};
        c->tls = tls;
        c->handshaking = tls != NULL;
        c->tls_want = 0;
        ing_buf_init(&c->in, loop->limits.max_head_bytes + loop->limits.max_body);
        ing_buf_init(&c->out, OUT_LIMIT);
        reset_request(c);
        timer_set(c, T_HEADER);
        loop->live++;
        gw_metrics_add(&loop->metrics->connections_accepted, 1);
    }
}

/* ---- the loop ---- */

static void begin_stop(gw_loop_t *loop)
{
    uint64_t v;
    (void)!read(loop->stop_fd, &v, sizeof(v));
    if (loop->stopping)
        return;
    loop->stopping = true;
    atomic_store_explicit(&loop->metrics->draining, true, memory_order_relaxed);
    loop->drain_deadline_us =
        loop->now_us + loop->conf.settings->request_timeout_ms * (int64_t)1000;
    if (loop->listen_fd >= 0) {
        close(loop->listen_fd);
        loop->listen_fd = -1;
    }
    for (size_t i = 0; i < loop->conf.max_connections; i++) {
        gw_conn_t *c = &loop->conns[i];
        if (c->state == C_READ && c->in.len == 0 && c->out.len == 0)
            conn_close(c); /* idle keep-alive */
    }
    ing_log(ING_LOG_INFO, "loop", "thread=%d stopping: %zu connections in flight",
            loop->conf.thread_no, loop->live);
}

static bool drained(gw_loop_t *loop)
{
    return loop->live == 0 && gw_producer_lane_outstanding(loop->lane) == 0 &&
           (gw_status_pending(loop->status) == 0 || !gw_status_connected(loop->status));
}

ing_err_t gw_loop_defer(gw_loop_t *loop, gw_defer_fn *fn, void *arg)
{
    gw_deferred_t *d = malloc(sizeof(*d));
    if (!d)
        return ING_ERR_NOMEM;
    *d = (gw_deferred_t){.due_us = ing_mono_us() + GW_LOOP_DEFER_US, .fn = fn, .arg = arg};
    if (loop->deferred_tail)
        loop->deferred_tail->next = d;
    else
        loop->deferred_head = d;
    loop->deferred_tail = d;
    return ING_OK;
}

/* Runs the deferred calls that are due (or all of them, cancelled, at destruction). */
static void run_deferred(gw_loop_t *loop, bool cancel)
{
    gw_deferred_t *d;
    while ((d = loop->deferred_head) && (cancel || d->due_us <= loop->now_us)) {
        loop->deferred_head = d->next;
        if (!loop->deferred_head)
            loop->deferred_tail = NULL;
        d->fn(loop, d->arg, cancel);
        free(d);
    }
}

static void run_timers(gw_loop_t *loop)
{
    run_deferred(loop, false);
    for (int k = 0; k < T__COUNT; k++) {
        gw_conn_t *c;
        while ((c = loop->timers[k].head) && c->deadline_us <= loop->now_us)
            conn_on_timeout(c);
    }
}

static int next_timeout_ms(gw_loop_t *loop, int64_t status_deadline)
{
    int64_t next = loop->now_us + 1000000; /* wake up at least once a second */
    for (int k = 0; k < T__COUNT; k++)
        if (loop->timers[k].head && loop->timers[k].head->deadline_us < next)
            next = loop->timers[k].head->deadline_us;
    if (status_deadline < next)
        next = status_deadline;
    if (loop->deferred_head && loop->deferred_head->due_us < next)
        next = loop->deferred_head->due_us;
    if (loop->stopping && loop->drain_deadline_us < next)
        next = loop->drain_deadline_us;
    int64_t wait = next - loop->now_us;
    return wait <= 0 ? 0 : (int)((wait + 999) / 1000);
}

/* Gauges other threads read (scrapes, /readyz): refreshed once per iteration. */
static void publish_gauges(gw_loop_t *loop)
{
    gw_thread_metrics_t *m = loop->metrics;
    atomic_store_explicit(&m->connections_open, (int_fast64_t)loop->live, memory_order_relaxed);
    atomic_store_explicit(&m->producer_queue,
                          (int_fast64_t)gw_producer_lane_outstanding(loop->lane),
                          memory_order_relaxed);
    atomic_store_explicit(&m->bytes_in_flight,
                          (int_fast64_t)(loop->buffered_bytes + loop->kafka_bytes),
                          memory_order_relaxed);
    atomic_store_explicit(&m->db_connected, gw_status_connected(loop->status),
                          memory_order_relaxed);
    atomic_store_explicit(&m->kafka_up, !gw_producer_brokers_down(loop->conf.producer),
                          memory_order_relaxed);
    atomic_store_explicit(&m->kafka_backlog,
                          loop->kafka_bytes > (size_t)loop->conf.settings->kafka_high_water_bytes,
                          memory_order_relaxed);
    atomic_store_explicit(&m->waiting, (int_fast64_t)gw_api_waiting(loop), memory_order_relaxed);
    atomic_store_explicit(&m->status_rows_dropped, gw_status_dropped(loop->status),
                          memory_order_relaxed);
}

void gw_loop_run(gw_loop_t *loop)
{
    struct epoll_event evs[MAX_EVENTS];
    ing_log(ING_LOG_INFO, "loop", "thread=%d running", loop->conf.thread_no);
    for (;;) {
        loop->now_us = ing_mono_us();
        run_timers(loop);
        int64_t status_deadline = gw_status_tick(loop->status, loop->now_us);
        int64_t api_deadline = gw_api_tick(loop, loop->now_us);
        if (api_deadline < status_deadline)
            status_deadline = api_deadline;
        publish_gauges(loop);
        if (loop->stopping) {
            if (drained(loop))
                break;
            if (loop->now_us >= loop->drain_deadline_us) {
                ing_log(ING_LOG_WARN, "loop",
                        "thread=%d drain timed out: %zu connections, %zu records in flight",
                        loop->conf.thread_no, loop->live, gw_producer_lane_outstanding(loop->lane));
                break;
            }
        }
        int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, next_timeout_ms(loop, status_deadline));
        if (n < 0 && errno != EINTR) {
            ing_log(ING_LOG_ERROR, "loop", "thread=%d epoll_wait: %s", loop->conf.thread_no,
                    strerror(errno));
            break;
        }
        loop->now_us = ing_mono_us();
        for (int i = 0; i < n; i++) {
            uint32_t tag = (uint32_t)(evs[i].data.u64 >> 56);
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32) & 0xffffff;
            uint32_t idx = (uint32_t)evs[i].data.u64;
            switch (tag) {
            case TAG_LISTEN:
                if (loop->listen_fd >= 0)
                    on_accept(loop);
                break;
            case TAG_STOP:
                begin_stop(loop);
                break;
            case TAG_KAFKA:
                gw_producer_serve(loop->lane, gw_producer_fd(loop->conf.producer));
                loop->kafka_served_us = loop->now_us;
                break;
            case TAG_KAFKA_INBOX:
                gw_producer_serve(loop->lane, gw_producer_lane_fd(loop->lane));
                loop->kafka_served_us = loop->now_us;
                break;
            case TAG_PG:
                gw_status_on_io(loop->status, evs[i].events);
                break;
            case TAG_CONN:
                if ((loop->conns[idx].gen & 0xffffff) == gen)
                    conn_on_event(&loop->conns[idx], evs[i].events);
                break;
            }
        }
        /* Cheap; covers a missed wake-up, and serves librdkafka's error and statistics events
         * (readiness) at least every 100 ms: their wake-ups were seen to be missed while
         * clients kept the loop busy. */
        if (n == 0 || loop->now_us - loop->kafka_served_us > 100000) {
            gw_producer_serve(loop->lane, -1);
            loop->kafka_served_us = loop->now_us;
        }
    }
    /* The last delivery reports may still queue 'accepted' rows and answer connections, so
     * they run here, on this thread, before anything is freed; as stopping, an answered
     * connection closes instead of reading its next pipelined request. */
    loop->stopping = true;
    int flush_ms = (int)loop->conf.settings->request_timeout_ms;
    if (flush_ms > FLUSH_MAX_MS)
        flush_ms = FLUSH_MAX_MS;
    gw_producer_lane_finish(loop->lane, flush_ms);
    ing_log(ING_LOG_INFO, "loop", "thread=%d stopped", loop->conf.thread_no);
}

void gw_loop_stop(gw_loop_t *loop)
{
    uint64_t one = 1;
    (void)!write(loop->stop_fd, &one, sizeof(one));
}

/* Watches fd for EPOLLIN, plus extra (EPOLLEXCLUSIVE for an fd every loop watches). */
static bool watch_fd(gw_loop_t *loop, int fd, uint32_t tag, uint32_t extra, char *errstr,
                     size_t errstr_size)
{
    struct epoll_event ev = {.events = EPOLLIN | extra, .data.u64 = EV_DATA(tag, 0, 0)};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return true;
    snprintf(errstr, errstr_size, "epoll_ctl: %s", strerror(errno));
    return false;
}

ing_err_t gw_loop_create(const gw_loop_conf_t *conf, gw_loop_t **out, char *errstr,
                         size_t errstr_size)
{
    ing_err_t err = ING_ERR_IO;
    gw_loop_t *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        close(conf->listen_fd);
        return ING_ERR_NOMEM;
    }
    const gw_settings_t *s = conf->settings;
    loop->conf = *conf;
    loop->metrics = gw_metrics_thread(conf->metrics, conf->thread_no - 1);
    loop->listen_fd = conf->listen_fd;
    loop->epfd = loop->stop_fd = -1;
    loop->auth = (gw_auth_conf_t){
        .trust_loopback = s->trust_loopback, .tls = conf->tls != NULL, .orgs = conf->orgs};
    loop->limits = (gw_http_limits_t){.max_request_line = (size_t)s->max_request_line_bytes,
                                      .max_head_bytes = (size_t)s->max_header_bytes,
                                      .max_headers = (size_t)s->max_headers,
                                      .max_body = (size_t)s->max_body_bytes};
    loop->timers[T_IDLE].duration_us = s->idle_timeout_ms * 1000;
    loop->timers[T_HEADER].duration_us = s->header_timeout_ms * 1000;
    loop->timers[T_REQUEST].duration_us = s->request_timeout_ms * 1000;
    loop->now_us = ing_mono_us();
    loop->inflight_cap = (size_t)(s->max_inflight_bytes / s->threads);
    loop->conns = calloc(conf->max_connections, sizeof(*loop->conns));
    if (!loop->conns) {
        err = ING_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = conf->max_connections; i-- > 0;) {
        gw_conn_t *c = &loop->conns[i];
        c->loop = loop;
        c->idx = (uint32_t)i;
        c->fd = -1;
        c->timer = T_NONE;
        c->next_free = loop->free_list;
        loop->free_list = c;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || loop->stop_fd < 0) {
        snprintf(errstr, errstr_size, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    if (!watch_fd(loop, loop->listen_fd, TAG_LISTEN, 0, errstr, errstr_size) ||
        !watch_fd(loop, loop->stop_fd, TAG_STOP, 0, errstr, errstr_size))
        goto fail;
    err = gw_producer_lane_create(conf->producer, gw_api_on_delivery, loop, &loop->lane, errstr,
                                  errstr_size);
    if (err)
        goto fail;
    err = ING_ERR_IO;
    /* Every loop watches the shared report queue; EPOLLEXCLUSIVE wakes one of them (or a
     * few), not all, for each batch of reports. */
    if (!watch_fd(loop, gw_producer_fd(conf->producer), TAG_KAFKA, EPOLLEXCLUSIVE, errstr,
                  errstr_size) ||
        !watch_fd(loop, gw_producer_lane_fd(loop->lane), TAG_KAFKA_INBOX, 0, errstr, errstr_size))
        goto fail;
    gw_status_conf_t sc = {
        .db_url = s->db_url,
        .epfd = loop->epfd,
        .epoll_tag = EV_DATA(TAG_PG, 0, 0),
        .max_queue = (size_t)s->db_queue_max,
        .on_get = gw_api_on_submission,
        .on_notify = gw_api_on_notify,
        .cb_opaque = loop,
        .thread_no = conf->thread_no,
        .inserts_queued = &loop->metrics->inserts_queued,
        .inserts_done = &loop->metrics->inserts_done,
    };
    err = gw_status_create(&sc, &loop->status);
    if (err) {
        snprintf(errstr, errstr_size, "status: %s", ing_err_str(err));
        goto fail;
    }
    err = gw_api_state_create(loop, &loop->api);
    if (err) {
        snprintf(errstr, errstr_size, "api: %s", ing_err_str(err));
        goto fail;
    }
    *out = loop;
    return ING_OK;
fail:
    gw_loop_destroy(loop);
    return err;
}

void gw_loop_destroy(gw_loop_t *loop)
{
    if (!loop)
        return;
    gw_producer_lane_destroy(loop->lane);
    gw_status_destroy(loop->status);
    run_deferred(loop, true);
    gw_api_state_destroy(loop->api);
    if (loop->conns)
        for (size_t i = 0; i < loop->conf.max_connections; i++)
            if (loop->conns[i].state != C_FREE)
                conn_close(&loop->conns[i]);
    free(loop->conns);
    if (loop->listen_fd >= 0)
        close(loop->listen_fd);
    if (loop->stop_fd >= 0)
        close(loop->stop_fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop);
}

gw_producer_lane_t *gw_loop_lane(gw_loop_t *loop)
{
    return loop->lane;
}

gw_status_t *gw_loop_status(gw_loop_t *loop)
{
    return loop->status;
}

struct gw_api_state *gw_loop_api(gw_loop_t *loop)
{
    return loop->api;
}

bool gw_loop_stopping(const gw_loop_t *loop)
{
    return loop->stopping;
}

void gw_conn_hold(gw_conn_t *c)
{
    if (c->state == C_WAIT)
        timer_unlink(c);
}

const gw_settings_t *gw_loop_settings(const gw_loop_t *loop)
{
    return loop->conf.settings;
}

const ing_policy_t *gw_loop_policy(const gw_loop_t *loop)
{
    return loop->conf.policy;
}

const gw_auth_conf_t *gw_loop_auth(const gw_loop_t *loop)
{
    return &loop->auth;
}

int gw_loop_thread_no(const gw_loop_t *loop)
{
    return loop->conf.thread_no;
}

gw_thread_metrics_t *gw_loop_metrics(gw_loop_t *loop)
{
    return loop->metrics;
}

gw_metrics_t *gw_loop_metrics_all(gw_loop_t *loop)
{
    return loop->conf.metrics;
}
