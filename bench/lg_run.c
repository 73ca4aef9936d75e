#include "lg_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ing_envelope.h"
#include "ing_log.h"
#include "ing_time.h"
#include "lg_http.h"
#include "lg_sched.h"

#define HEAD_ROOM 512         /* the request head is written just before the body */
#define IN_CAP (1u << 20)     /* a response larger than this is an error */
#define DUP_RING 4096         /* earlier envelopes a duplicate may repeat */
#define REQ_SAMPLES 4         /* e2e samples carried by one request */
#define E2E_MAX 1000000       /* over all threads and steps (about 100 MB at most) */
#define DRAIN_MAX_US 10000000 /* in-flight requests get this long after the end */
#define RECONNECT_US 100000

enum conn_state { C_CLOSED, C_CONNECTING, C_IDLE, C_BUSY };

typedef struct lg_conn {
    int fd;
    SSL *ssl; /* https: the session, created once TCP is connected */
    enum conn_state state;
    ing_buf_t out, in, chunk;
    size_t out_off; /* first byte of the request in out */
    int64_t intended_us, sent_us, deadline_us, retry_at_us, sent_wall_us;
    bool measured, expect_4xx, want_out;
    int samples;
    lg_e2e_sample_t sample[REQ_SAMPLES];
} lg_conn_t;

typedef struct dup_ref {
    uint32_t entry;
    uint64_t counter;
} dup_ref_t;

typedef struct lg_worker {
    lg_runner_t *runner;
    int id;
    pthread_t thread;
    lg_rng_t rng;
    uint64_t next_request; /* this thread's request counter, over all steps */
    dup_ref_t ring[DUP_RING];
    size_t ring_len, ring_pos;
    lg_e2e_sample_t *e2e; /* @owns */
    size_t e2e_len, e2e_cap;
    /* per step */
    double rate;
    bool open_loop;
    lg_sched_t sched;
    int64_t start_us, warm_end_us, end_us;
    int epfd;
    lg_conn_t *conns;
    int nconns;
    int *idle;
    int nidle;
    lg_counts_t totals;
    lg_hist_t *latency, *sched_delay;
    lg_second_t *series;
    lg_hist_t **second_hist;
    size_t seconds;
    ing_err_t err;
    char errstr[256];
} lg_worker_t;

struct lg_runner {
    const lg_workload_t *w;
    const lg_pool_t *pool;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *tls; /* https: shared read-only by the workers; NULL for http */
    char host_header[160];
    int nworkers;
    lg_worker_t *workers;
    lg_e2e_sample_t *e2e_all;
    size_t e2e_all_len;
};

double lg_counts_error_rate(const lg_counts_t *c)
{
    return c->sent ? (double)c->errors / (double)c->sent : 0.0;
}

/* ---- per-second series --------------------------------------------------------------------- */

static lg_second_t *second_at(lg_worker_t *wk, int64_t now_us, lg_hist_t **hist)
{
    int64_t s = (now_us - wk->start_us) / 1000000;
    if (s < 0)
        s = 0;
    if ((size_t)s >= wk->seconds)
        s = (int64_t)wk->seconds - 1;
    if (hist)
        *hist = wk->second_hist[s];
    return &wk->series[s];
}

/* ---- connections --------------------------------------------------------------------------- */

static void conn_close(lg_worker_t *wk, lg_conn_t *c, int64_t retry_at_us)
{
    if (c->ssl) {
        SSL_free(c->ssl); /* no close_notify: the socket closes at once */
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->fd >= 0) {
        epoll_ctl(wk->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (c->state == C_IDLE) {
        for (int i = 0; i < wk->nidle; i++)
            if (&wk->conns[wk->idle[i]] == c) {
                wk->idle[i] = wk->idle[--wk->nidle];
                break;
            }
    }
    c->fd = -1;
    c->state = C_CLOSED;
    c->retry_at_us = retry_at_us;
    ing_buf_reset(&c->in);
}

static void conn_set_idle(lg_worker_t *wk, lg_conn_t *c)
{
    c->state = C_IDLE;
    wk->idle[wk->nidle++] = (int)(c - wk->conns);
}

static void conn_watch(lg_worker_t *wk, lg_conn_t *c, bool want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u), .data.ptr = c};
    epoll_ctl(wk->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

static void conn_open(lg_worker_t *wk, lg_conn_t *c, int64_t now)
{
    const lg_runner_t *r = wk->runner;
    int fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        wk->totals.conn_errors++;
        c->retry_at_us = now + RECONNECT_US;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(wk->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 ||
        (connect(fd, (const struct sockaddr *)&r->addr, r->addrlen) != 0 && errno != EINPROGRESS)) {
        wk->totals.conn_errors++;
        second_at(wk, now, NULL)->c.conn_errors++;
        conn_close(wk, c, now + RECONNECT_US);
        return;
    }
    c->state = C_CONNECTING;
    c->deadline_us = now + wk->runner->w->s.timeout_ms * 1000;
}

/* ---- requests ------------------------------------------------------------------------------ */

static lg_variant_t choose_doc(lg_worker_t *wk, uint64_t *counter, size_t *entry, bool *dup)
{
    const lg_workload_t *w = wk->runner->w;
    double u = lg_rng_double(&wk->rng);
    *dup = false;
    if (u < w->duplicate_ratio && wk->ring_len) {
        const dup_ref_t *d = &wk->ring[lg_rng_below(&wk->rng, wk->ring_len)];
        *entry = d->entry;
        *counter = d->counter;
        *dup = true;
        return LG_VARIANT_VALID;
    }
    *entry = (size_t)lg_rng_below(&wk->rng, lg_pool_count(wk->runner->pool));
    if (u < w->duplicate_ratio + w->invalid_ratio)
        return lg_rng_below(&wk->rng, 2) ? LG_VARIANT_BAD_INS : LG_VARIANT_BAD_HASH;
    wk->ring[wk->ring_pos] = (dup_ref_t){(uint32_t)*entry, *counter};
    wk->ring_pos = (wk->ring_pos + 1) % DUP_RING;
    if (wk->ring_len < DUP_RING)
        wk->ring_len++;
    return LG_VARIANT_VALID;
}

static bool e2e_pick(double fraction, uint64_t counter)
{
    return fraction > 0 && (double)(lg_mix64(counter ^ 0xe2e) >> 11) * 0x1.0p-53 < fraction;
}

/* Builds the request into c->out; returns ING_OK or a buffer error. */
static ing_err_t build_request(lg_worker_t *wk, lg_conn_t *c, int64_t now)
{
    const lg_runner_t *r = wk->runner;
    const lg_workload_t *w = r->w;
    ing_buf_reset(&c->out);
    uint8_t *room;
    ing_err_t err = ing_buf_reserve(&c->out, HEAD_ROOM, &room);
    if (err)
        return err;
    memset(room, ' ', HEAD_ROOM);
    ing_buf_commit(&c->out, HEAD_ROOM);
    if (w->batch_endpoint)
        err = ing_buf_append(&c->out, "[", 1);
    uint64_t request = wk->next_request++ * (uint64_t)r->nworkers + (uint64_t)wk->id;
    c->samples = 0;
    c->expect_4xx = false;
    for (int i = 0; !err && i < w->batch; i++) {
        uint64_t counter = request * (uint64_t)w->batch + (uint64_t)i;
        size_t entry;
        bool dup;
        lg_variant_t v = choose_doc(wk, &counter, &entry, &dup);
        if (i > 0)
            err = ing_buf_append(&c->out, ",", 1);
        lg_doc_info_t info;
        if (!err)
            err = lg_pool_render(r->pool, entry, counter, v, &c->out, &info);
        if (err)
            break;
        wk->totals.dup_sent += dup && c->measured;
        wk->totals.invalid_sent += v != LG_VARIANT_VALID && c->measured;
        if (!w->batch_endpoint && v != LG_VARIANT_VALID)
            c->expect_4xx = true;
        if (v == LG_VARIANT_VALID && !dup && c->samples < REQ_SAMPLES &&
            e2e_pick(w->e2e_sample, counter)) {
            lg_e2e_sample_t *s = &c->sample[c->samples++];
            ing_submission_id(NULL, info.finess, info.document_id, 1, info.sha256,
                              s->submission_id);
            memcpy(s->document_id, info.document_id, sizeof(s->document_id));
        }
    }
    if (!err && w->batch_endpoint)
        err = ing_buf_append(&c->out, "]", 1);
    if (err)
        return err;
    char head[HEAD_ROOM];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ingest-loadgen\r\n"
                     "%s%s%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     w->path, r->host_header, w->s.api_key[0] ? "Authorization: Bearer " : "",
                     w->s.api_key, w->s.api_key[0] ? "\r\n" : "", c->out.len - HEAD_ROOM);
    if (n < 0 || n >= HEAD_ROOM)
        return ING_ERR_TOO_BIG;
    c->out_off = HEAD_ROOM - (size_t)n;
    memcpy(c->out.data + c->out_off, head, (size_t)n);
    (void)now;
    return ING_OK;
}

/* Writes what it can; returns false when the connection failed. */
static bool conn_flush(lg_worker_t *wk, lg_conn_t *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n;
        if (c->ssl) {
            size_t done = 0;
            ERR_clear_error();
            int rc = SSL_write_ex(c->ssl, c->out.data + c->out_off, c->out.len - c->out_off, &done);
            int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                conn_watch(wk, c, true);
                return true;
            }
            n = e == SSL_ERROR_NONE ? (ssize_t)done : -1;
            if (n < 0) {
                ERR_clear_error();
                return false;
            }
        } else {
            n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n > 0) {
            c->out_off += (size_t)n;
            second_at(wk, ing_mono_us(), NULL)->c.bytes_sent += (uint64_t)n;
            if (c->measured)
                wk->totals.bytes_sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_watch(wk, c, true);
            return true;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
    conn_watch(wk, c, false);
    return true;
}

static void request_failed(lg_worker_t *wk, lg_conn_t *c, int64_t now, bool timeout)
{
    lg_second_t *sec = second_at(wk, now, NULL);
    if (timeout)
        sec->c.timeouts++;
    else
        sec->c.io_errors++;
    sec->c.errors++;
    if (c->measured) {
        if (timeout)
            wk->totals.timeouts++;
        else
            wk->totals.io_errors++;
        wk->totals.errors++;
    }
    conn_close(wk, c, now + (timeout ? 0 : RECONNECT_US));
}

static void send_on(lg_worker_t *wk, lg_conn_t *c, int64_t intended, int64_t now)
{
    c->intended_us = intended;
    c->measured = intended >= wk->warm_end_us;
    ing_err_t err = build_request(wk, c, now);
    if (err) {
        wk->err = err;
        snprintf(wk->errstr, sizeof(wk->errstr), "building a request: %s", ing_err_str(err));
        return;
    }
    c->state = C_BUSY;
    c->sent_us = ing_mono_us();
    c->sent_wall_us = ing_wall_us();
    c->deadline_us = c->sent_us + wk->runner->w->s.timeout_ms * 1000;
    lg_second_t *sec = second_at(wk, c->sent_us, NULL);
    sec->c.sent++;
    sec->c.docs_sent += (uint64_t)wk->runner->w->batch;
    if (c->measured) {
        wk->totals.sent++;
        wk->totals.docs_sent += (uint64_t)wk->runner->w->batch;
        if (wk->open_loop)
            lg_hist_record(wk->sched_delay, c->sent_us - intended);
    }
    if (!conn_flush(wk, c))
        request_failed(wk, c, c->sent_us, false);
}

/* Per-item outcomes of a batch response: counts "status" values inside {"results":[...]}. */
static void count_items(const char *body, size_t len, uint64_t *ok, uint64_t *failed)
{
    const char *end = body + len;
    const char *p = body ? memmem(body, len, "\"results\"", 9) : NULL;
    while (p && (p = memmem(p, (size_t)(end - p), "\"status\"", 8))) {
        p += 8;
        while (p < end && (*p == ' ' || *p == ':'))
            p++;
        if (p >= end)
            break;
        bool good;
        if (*p == '"')
            good = (size_t)(end - p) > 9 &&
                   (!strncmp(p, "\"accepted\"", 10) || !strncmp(p, "\"stored\"", 8) ||
                    !strncmp(p, "\"duplicate\"", 11));
        else
            good = *p == '2';
        *(good ? ok : failed) += 1;
    }
}

static void response_done(lg_worker_t *wk, lg_conn_t *c, const lg_http_resp_t *resp, int64_t now)
{
    int st = resp->status;
    bool is2 = st >= 200 && st < 300;
    bool is4 = st >= 400 && st < 500 && st != 429;
    bool ok = c->expect_4xx ? is4 : is2;
    int64_t lat = now - (wk->open_loop ? c->intended_us : c->sent_us);
    lg_hist_t *sh;
    lg_second_t *sec = second_at(wk, now, &sh);
    lg_counts_t *cs[2] = {&sec->c, c->measured ? &wk->totals : NULL};
    uint64_t iok = 0, ifail = 0;
    if (wk->runner->w->batch_endpoint && is2)
        count_items(resp->body, resp->body_len, &iok, &ifail);
    for (int i = 0; i < 2; i++) {
        lg_counts_t *k = cs[i];
        if (!k)
            continue;
        k->completed++;
        k->s2xx += is2;
        k->s202 += st == 202;
        k->s4xx += is4;
        k->s429 += st == 429;
        k->s503 += st == 503;
        k->sother += !is2 && !is4 && st != 429 && st != 503;
        k->ok += ok;
        k->errors += !ok;
        k->items_ok += iok;
        k->items_failed += ifail;
    }
    lg_hist_record(sh, lat);
    if (c->measured) {
        lg_hist_record(wk->latency, lat);
        for (int i = 0; is2 && i < c->samples && wk->e2e_len < wk->e2e_cap; i++) {
            lg_e2e_sample_t *s = &wk->e2e[wk->e2e_len++];
            *s = c->sample[i];
            s->sent_wall_us = c->sent_wall_us;
            s->acked_wall_us = ing_wall_us();
        }
    }
}

/* Reads and handles what arrived; the connection may be closed on return. */
static void conn_readable(lg_worker_t *wk, lg_conn_t *c, int64_t now)
{
    bool eof = false;
    for (;;) {
        uint8_t *w;
        if (ing_buf_reserve(&c->in, 65536 < IN_CAP - c->in.len ? 65536 : IN_CAP - c->in.len, &w) !=
                ING_OK ||
            c->in.len >= IN_CAP) {
            if (c->state == C_BUSY)
                request_failed(wk, c, now, false);
            else
                conn_close(wk, c, now);
            return;
        }
        size_t room = c->in.cap - 1 - c->in.len;
        ssize_t n;
        if (c->ssl) {
            /* Record by record until OpenSSL wants more from the socket: what it holds
             * decrypted would not wake epoll up. */
            size_t got = 0;
            ERR_clear_error();
            int rc = SSL_read_ex(c->ssl, w, room, &got);
            int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break;
            if (e != SSL_ERROR_NONE) {
                ERR_clear_error();
                eof = true; /* close_notify, EOF or a TLS error: the connection is over */
                break;
            }
            n = (ssize_t)got;
        } else {
            n = recv(c->fd, w, room, 0);
        }
        if (n > 0) {
            ing_buf_commit(&c->in, (size_t)n);
            second_at(wk, now, NULL)->c.bytes_received += (uint64_t)n;
            if (c->state == C_BUSY && c->measured)
                wk->totals.bytes_received += (uint64_t)n;
            if ((size_t)n < room && !c->ssl)
                break;
            continue;
        }
        if (n == 0) {
            eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        eof = true; /* reset: treat like a close */
        break;
    }
    while (c->in.len > 0 || (eof && c->state == C_BUSY)) {
        if (c->state != C_BUSY) {
            /* Bytes nobody asked for: the connection is out of step, drop it. */
            conn_close(wk, c, now);
            return;
        }
        lg_http_resp_t resp;
        ssize_t used = lg_http_parse_response((const char *)c->in.data, c->in.len, false, eof,
                                              &c->chunk, &resp);
        if (used == -2)
            break;
        if (used < 0) {
            request_failed(wk, c, now, false);
            return;
        }
        if (resp.status < 200) { /* interim response: the final one follows */
            ing_buf_consume(&c->in, (size_t)used);
            continue;
        }
        response_done(wk, c, &resp, now);
        ing_buf_consume(&c->in, (size_t)used);
        if (!resp.keep_alive) {
            conn_close(wk, c, now);
            return;
        }
        conn_set_idle(wk, c);
    }
    if (eof) {
        if (c->state == C_BUSY)
            request_failed(wk, c, now, false);
        else
            conn_close(wk, c, now); /* an idle keep-alive connection closed by the server */
    }
}

/* https: creates the session once TCP is up and advances the handshake (still under the
 * connect deadline). @returns true once it is done; false while it waits, or after closing
 * the connection on a failure. */
static bool tls_handshake(lg_worker_t *wk, lg_conn_t *c, int64_t now)
{
    const lg_runner_t *r = wk->runner;
    ERR_clear_error();
    if (!c->ssl) {
        struct in6_addr ip;
        bool numeric =
            inet_pton(AF_INET, r->w->host, &ip) == 1 || inet_pton(AF_INET6, r->w->host, &ip) == 1;
        c->ssl = SSL_new(r->tls);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
            (numeric ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), r->w->host)
                     : SSL_set1_host(c->ssl, r->w->host) != 1 ||
                           SSL_set_tlsext_host_name(c->ssl, r->w->host) != 1))
            goto fail;
        SSL_set_connect_state(c->ssl);
    }
    int rc = SSL_do_handshake(c->ssl);
    int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_NONE)
        return true;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        conn_watch(wk, c, e == SSL_ERROR_WANT_WRITE);
        return false;
    }
fail:;
    char reason[160] = "";
    unsigned long le = ERR_peek_last_error();
    if (le)
        ERR_error_string_n(le, reason, sizeof(reason));
    ing_log(ING_LOG_WARN, "loadgen", "TLS handshake with %s failed: %s", r->host_header,
            reason[0] ? reason : "connection closed");
    ERR_clear_error();
    wk->totals.conn_errors++;
    second_at(wk, now, NULL)->c.conn_errors++;
    conn_close(wk, c, now + RECONNECT_US);
    return false;
}

static void conn_event(lg_worker_t *wk, lg_conn_t *c, uint32_t events, int64_t now)
{
    if (c->state == C_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr || (events & (EPOLLERR | EPOLLHUP))) {
            wk->totals.conn_errors++;
            second_at(wk, now, NULL)->c.conn_errors++;
            conn_close(wk, c, now + RECONNECT_US);
            return;
        }
        if (!(events & EPOLLOUT) && !c->ssl)
            return;
        if (wk->runner->tls && !tls_handshake(wk, c, now))
            return;
        conn_watch(wk, c, false);
        conn_set_idle(wk, c);
        return;
    }
    if ((events & EPOLLOUT) && c->state == C_BUSY && !conn_flush(wk, c)) {
        request_failed(wk, c, now, false);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_readable(wk, c, now);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static int inflight(const lg_worker_t *wk)
{
    int n = 0;
    for (int i = 0; i < wk->nconns; i++)
        n += wk->conns[i].state == C_BUSY;
    return n;
}

static void *worker_main(void *arg)
{
    lg_worker_t *wk = arg;
    const lg_workload_t *w = wk->runner->w;
    int64_t drain_until =
        wk->end_us +
        (w->s.timeout_ms * 1000 < DRAIN_MAX_US ? w->s.timeout_ms * 1000 : DRAIN_MAX_US);
    struct epoll_event events[64];
    while (!wk->err) {
        int64_t now = ing_mono_us();
        bool running = now < wk->end_us;
        if (!running && (inflight(wk) == 0 || now >= drain_until))
            break;
        int64_t wake = running ? wk->end_us : drain_until;
        /* Timeouts and reconnects. */
        for (int i = 0; i < wk->nconns; i++) {
            lg_conn_t *c = &wk->conns[i];
            if ((c->state == C_BUSY || c->state == C_CONNECTING) && c->deadline_us <= now) {
                if (c->state == C_BUSY) {
                    request_failed(wk, c, now, true);
                } else {
                    wk->totals.conn_errors++;
                    conn_close(wk, c, now + RECONNECT_US);
                }
            }
            if (c->state == C_CLOSED && running && c->retry_at_us <= now)
                conn_open(wk, c, now);
            if (c->state == C_CLOSED && running && c->retry_at_us < wake)
                wake = c->retry_at_us;
            if ((c->state == C_BUSY || c->state == C_CONNECTING) && c->deadline_us < wake)
                wake = c->deadline_us;
        }
        /* Issue what is due. */
        if (running) {
            if (wk->open_loop) {
                int64_t intended;
                while (wk->nidle > 0 && !wk->err && lg_sched_take(&wk->sched, now, &intended))
                    send_on(wk, &wk->conns[wk->idle[--wk->nidle]], intended, now);
                if (wk->nidle > 0) {
                    int64_t next = lg_sched_next_time(&wk->sched);
                    if (next < wake)
                        wake = next;
                }
            } else {
                while (wk->nidle > 0 && !wk->err)
                    send_on(wk, &wk->conns[wk->idle[--wk->nidle]], now, now);
            }
        }
        now = ing_mono_us();
        int64_t wait_us = wake > now ? wake - now : 0;
        struct timespec ts = {.tv_sec = wait_us / 1000000, .tv_nsec = (wait_us % 1000000) * 1000};
        int n = epoll_pwait2(wk->epfd, events, 64, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            n = epoll_wait(wk->epfd, events, 64, (int)((wait_us + 999) / 1000));
        }
        if (n < 0 && errno != EINTR) {
            wk->err = ING_ERR_IO;
            snprintf(wk->errstr, sizeof(wk->errstr), "epoll_wait: %s", strerror(errno));
            break;
        }
        now = ing_mono_us();
        for (int i = 0; i < n; i++) {
            lg_conn_t *c = events[i].data.ptr;
            if (c->fd >= 0)
                conn_event(wk, c, events[i].events, now);
        }
    }
    int64_t now = ing_mono_us();
    for (int i = 0; i < wk->nconns; i++) {
        lg_conn_t *c = &wk->conns[i];
        if (c->state == C_BUSY)
            request_failed(wk, c, now, true); /* still out when the drain ended */
        conn_close(wk, c, 0);
    }
    if (wk->open_loop) {
        uint64_t due = lg_sched_due_count(&wk->sched, wk->end_us - 1);
        if (due > wk->sched.next)
            wk->totals.unsent += due - wk->sched.next;
    }
    return NULL;
}

/* ---- runner -------------------------------------------------------------------------------- */

/* https: TLS 1.2+, the gateway's certificate verified (tls_ca, or the system's CAs), and the
 * client certificate when one is set. */
static ing_err_t tls_context(const lg_workload_t *w, SSL_CTX **out, char *errstr, size_t errsz)
{
    const lg_settings_t *s = &w->s;
    const char *what = "cannot create a TLS context";
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    what = "tls_ca: cannot load";
    if (s->tls_ca[0] ? SSL_CTX_load_verify_locations(ctx, s->tls_ca, NULL) != 1
                     : SSL_CTX_set_default_verify_paths(ctx) != 1)
        goto fail;
    what = "tls_cert / tls_key: cannot load";
    if (s->tls_cert[0] && (SSL_CTX_use_certificate_chain_file(ctx, s->tls_cert) != 1 ||
                           SSL_CTX_use_PrivateKey_file(ctx, s->tls_key, SSL_FILETYPE_PEM) != 1 ||
                           SSL_CTX_check_private_key(ctx) != 1))
        goto fail;
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    *out = ctx;
    return ING_OK;
fail:;
    char reason[160] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(errstr, errsz, "%s%s%s", what, reason[0] ? ": " : "", reason);
    SSL_CTX_free(ctx);
    return ING_ERR_CONFIG;
}

ing_err_t lg_runner_create(const lg_workload_t *w, const lg_pool_t *pool, lg_runner_t **out,
                           char *errstr, size_t errsz)
{
    *out = NULL;
    lg_runner_t *r = calloc(1, sizeof(*r));
    if (!r)
        return ING_ERR_NOMEM;
    r->w = w;
    r->pool = pool;
    snprintf(r->host_header, sizeof(r->host_header), "%s:%d", w->host, w->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", w->port);
    int gai = getaddrinfo(w->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(errstr, errsz, "cannot resolve %s: %s", w->host, gai_strerror(gai));
        free(r);
        return ING_ERR_CONFIG;
    }
    memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
    r->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (w->tls && tls_context(w, &r->tls, errstr, errsz) != ING_OK) {
        free(r);
        return ING_ERR_CONFIG;
    }
    r->nworkers = (int)w->s.threads;
    r->workers = calloc((size_t)r->nworkers, sizeof(lg_worker_t));
    if (!r->workers) {
        SSL_CTX_free(r->tls);
        free(r);
        return ING_ERR_NOMEM;
    }
    for (int i = 0; i < r->nworkers; i++) {
        lg_worker_t *wk = &r->workers[i];
        wk->runner = r;
        wk->id = i;
        lg_rng_seed(&wk->rng, (uint64_t)w->s.seed * 1000003u + (uint64_t)i);
        wk->e2e_cap = E2E_MAX / (size_t)r->nworkers;
        wk->e2e = calloc(wk->e2e_cap, sizeof(lg_e2e_sample_t));
        if (!wk->e2e) {
            lg_runner_destroy(r);
            return ING_ERR_NOMEM;
        }
    }
    *out = r;
    return ING_OK;
}

void lg_runner_destroy(lg_runner_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nworkers; i++)
        free(r->workers[i].e2e);
    free(r->workers);
    free(r->e2e_all);
    SSL_CTX_free(r->tls);
    free(r);
}

static void worker_step_fini(lg_worker_t *wk)
{
    for (int i = 0; wk->conns && i < wk->nconns; i++) {
        ing_buf_fini(&wk->conns[i].out);
        ing_buf_fini(&wk->conns[i].in);
        ing_buf_fini(&wk->conns[i].chunk);
    }
    free(wk->conns);
    free(wk->idle);
    wk->conns = NULL;
    wk->idle = NULL;
    for (size_t s = 0; wk->second_hist && s < wk->seconds; s++)
        lg_hist_destroy(wk->second_hist[s]);
    free(wk->second_hist);
    free(wk->series);
    wk->second_hist = NULL;
    wk->series = NULL;
    lg_hist_destroy(wk->latency);
    lg_hist_destroy(wk->sched_delay);
    wk->latency = wk->sched_delay = NULL;
    if (wk->epfd > 0)
        close(wk->epfd);
    wk->epfd = -1;
}

static ing_err_t worker_step_init(lg_worker_t *wk, double rate, int64_t start, size_t seconds)
{
    const lg_runner_t *r = wk->runner;
    const lg_workload_t *w = r->w;
    wk->rate = rate;
    wk->open_loop = rate > 0;
    wk->start_us = start;
    wk->warm_end_us = start + w->s.warmup_s * 1000000;
    wk->end_us = wk->warm_end_us + w->s.duration_s * 1000000;
    if (wk->open_loop)
        lg_sched_init(&wk->sched, start, wk->end_us, rate, w->batch, wk->id, r->nworkers);
    memset(&wk->totals, 0, sizeof(wk->totals));
    wk->err = ING_OK;
    wk->errstr[0] = '\0';
    /* Connections are spread over threads; the first threads take the remainder. */
    wk->nconns = (int)(w->s.connections / r->nworkers) +
                 (wk->id < (int)(w->s.connections % r->nworkers) ? 1 : 0);
    wk->nidle = 0;
    wk->epfd = epoll_create1(EPOLL_CLOEXEC);
    wk->conns = calloc((size_t)wk->nconns, sizeof(lg_conn_t));
    wk->idle = calloc((size_t)wk->nconns, sizeof(int));
    wk->seconds = seconds;
    wk->series = calloc(seconds, sizeof(lg_second_t));
    wk->second_hist = calloc(seconds, sizeof(lg_hist_t *));
    if (wk->epfd < 0 || !wk->conns || !wk->idle || !wk->series || !wk->second_hist)
        return ING_ERR_NOMEM;
    size_t out_cap = (lg_pool_max_envelope(r->pool) + 1) * (size_t)w->batch + HEAD_ROOM + 16;
    for (int i = 0; i < wk->nconns; i++) {
        lg_conn_t *c = &wk->conns[i];
        c->fd = -1;
        c->state = C_CLOSED;
        ing_buf_init(&c->out, out_cap);
        ing_buf_init(&c->in, IN_CAP);
        ing_buf_init(&c->chunk, IN_CAP);
    }
    ing_err_t err = lg_hist_create(LG_HIST_MAX_US_DEFAULT, 11, &wk->latency);
    if (!err)
        err = lg_hist_create(LG_HIST_MAX_US_DEFAULT, 11, &wk->sched_delay);
    for (size_t s = 0; !err && s < seconds; s++) {
        err = lg_hist_create(LG_HIST_MAX_US_DEFAULT, 7, &wk->second_hist[s]);
        wk->series[s].warmup = (int64_t)s < w->s.warmup_s;
    }
    return err;
}

static void counts_add(lg_counts_t *dst, const lg_counts_t *src)
{
    uint64_t *d = (uint64_t *)dst;
    const uint64_t *s = (const uint64_t *)src;
    for (size_t i = 0; i < sizeof(*dst) / sizeof(uint64_t); i++)
        d[i] += s[i];
}

void lg_step_fini(lg_step_t *step)
{
    lg_hist_destroy(step->latency);
    lg_hist_destroy(step->sched_delay);
    free(step->series);
    memset(step, 0, sizeof(*step));
}

ing_err_t lg_runner_step(lg_runner_t *r, double rate, lg_step_t *step, char *errstr, size_t errsz)
{
    const lg_workload_t *w = r->w;
    memset(step, 0, sizeof(*step));
    step->target_rate = rate;
    size_t seconds = (size_t)(w->s.warmup_s + w->s.duration_s) + DRAIN_MAX_US / 1000000 + 2;
    ing_err_t err = lg_hist_create(LG_HIST_MAX_US_DEFAULT, 11, &step->latency);
    if (!err)
        err = lg_hist_create(LG_HIST_MAX_US_DEFAULT, 11, &step->sched_delay);
    step->series = calloc(seconds, sizeof(lg_second_t));
    if (!err && !step->series)
        err = ING_ERR_NOMEM;
    /* Start a little in the future so that every thread is ready at its first intended time. */
    int64_t start = ing_mono_us() + 50000;
    step->start_wall_us = ing_wall_us() + 50000;
    int started = 0;
    for (int i = 0; !err && i < r->nworkers; i++)
        err = worker_step_init(&r->workers[i], rate, start, seconds);
    for (int i = 0; !err && i < r->nworkers; i++) {
        if (pthread_create(&r->workers[i].thread, NULL, worker_main, &r->workers[i]) != 0)
            err = ING_ERR_INTERNAL;
        else
            started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(r->workers[i].thread, NULL);
    if (err)
        snprintf(errstr, errsz, "starting the step: %s", ing_err_str(err));

    lg_hist_t *sec_hist = NULL;
    if (!err)
        err = lg_hist_create(LG_HIST_MAX_US_DEFAULT, 7, &sec_hist);
    /* The series ends at the last second anything happened in. */
    size_t used = (size_t)(w->s.warmup_s + w->s.duration_s);
    for (size_t s = 0; !err && s < seconds; s++) {
        lg_hist_reset(sec_hist);
        for (int i = 0; i < r->nworkers; i++) {
            lg_worker_t *wk = &r->workers[i];
            counts_add(&step->series[s].c, &wk->series[s].c);
            err = lg_hist_merge(sec_hist, wk->second_hist[s]);
        }
        step->series[s].warmup = (int64_t)s < w->s.warmup_s;
        step->series[s].p50_us = lg_hist_percentile(sec_hist, 50);
        step->series[s].p99_us = lg_hist_percentile(sec_hist, 99);
        if (step->series[s].c.completed || step->series[s].c.sent || step->series[s].c.errors)
            used = used > s + 1 ? used : s + 1;
    }
    step->seconds = used < seconds ? used : seconds;
    lg_hist_destroy(sec_hist);
    for (int i = 0; i < r->nworkers; i++) {
        lg_worker_t *wk = &r->workers[i];
        if (!err && wk->err) {
            err = wk->err;
            snprintf(errstr, errsz, "thread %d: %s", i, wk->errstr);
        }
        if (!err && wk->latency) {
            counts_add(&step->totals, &wk->totals);
            err = lg_hist_merge(step->latency, wk->latency);
            if (!err)
                err = lg_hist_merge(step->sched_delay, wk->sched_delay);
        }
        worker_step_fini(wk);
    }
    step->measured_s = (double)w->s.duration_s;
    if (err)
        lg_step_fini(step);
    return err;
}

size_t lg_runner_e2e(lg_runner_t *r, const lg_e2e_sample_t **samples)
{
    size_t total = 0;
    for (int i = 0; i < r->nworkers; i++)
        total += r->workers[i].e2e_len;
    free(r->e2e_all);
    r->e2e_all = calloc(total ? total : 1, sizeof(lg_e2e_sample_t));
    r->e2e_all_len = 0;
    for (int i = 0; r->e2e_all && i < r->nworkers; i++) {
        memcpy(r->e2e_all + r->e2e_all_len, r->workers[i].e2e,
               r->workers[i].e2e_len * sizeof(lg_e2e_sample_t));
        r->e2e_all_len += r->workers[i].e2e_len;
    }
    *samples = r->e2e_all;
    return r->e2e_all ? r->e2e_all_len : 0;
}
