/*
 * wk_endpoint: the worker's small HTTP listener for operators — GET /metrics (Prometheus text,
 * rendered by the caller) and GET /healthz. It runs on the caller's epoll loop (the worker's
 * main thread, beside its signals), one short request per connection: the head must arrive
 * within 5 s and fit 4 KiB, the answer closes the connection, and at most 16 connections are
 * open (more are closed at once). Nothing here touches documents or patients.
 */
#ifndef WK_ENDPOINT_H
#define WK_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_error.h"

typedef struct wk_endpoint wk_endpoint_t;

/** Appends the /metrics body to out. Called on the loop's thread. */
typedef ing_err_t (*wk_endpoint_render_fn)(void *arg, ing_buf_t *out);

/**
 * Listens on listen ("host:port", "[v6]:port"; port 0 picks one) and registers with epfd;
 * every epoll event whose data.ptr is not the caller's own goes to wk_endpoint_handle.
 * @borrows epfd, arg (both outlive the endpoint)
 * @returns ING_OK, ING_ERR_CONFIG (bad address) or ING_ERR_IO (cannot listen), with errstr.
 */
ing_err_t wk_endpoint_create(const char *listen, int epfd, wk_endpoint_render_fn render, void *arg,
                             wk_endpoint_t **out, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** The port it listens on. */
int wk_endpoint_port(const wk_endpoint_t *ep);

/** Handles one epoll event registered by the endpoint (tag = its data.ptr). */
void wk_endpoint_handle(wk_endpoint_t *ep, void *tag, uint32_t events, int64_t now_us);

/** Closes connections whose request or answer is overdue. Call at least once a second. */
void wk_endpoint_sweep(wk_endpoint_t *ep, int64_t now_us);

/** Closes everything; NULL is allowed. */
void wk_endpoint_destroy(wk_endpoint_t *ep);

#endif
