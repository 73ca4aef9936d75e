/*
 * The shared producer's lanes, against librdkafka's mock cluster: a delivery report always
 * reaches the lane that produced the record, whichever lane took it off the shared queue
 * (the other lane's go through its inbox and wake its eventfd); at shut-down, records that
 * could not be delivered are reported, once each, as retriable failures when their lane is
 * destroyed. The first two cases are single-threaded (the lanes take turns, which makes the
 * hand-over visible); the third runs two loops on two threads, as the gateway does, and checks
 * that every callback ran on the thread that produced its record.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "gw_producer.h"
#include "ing_test.h"

typedef struct lane_seen {
    int id;
    int ok, failed, foreign; /* foreign: a record of another lane called back here */
    int retriable_failures;
} lane_seen_t;

typedef struct test_record {
    gw_producer_msg_t msg;
    int lane_id;
    pthread_t producer_thread;
} test_record_t;

static void on_delivery(void *cb_opaque, gw_producer_msg_t *msg, ing_err_t err, const char *why)
{
    (void)why;
    lane_seen_t *seen = cb_opaque;
    test_record_t *r = (test_record_t *)((char *)msg - offsetof(test_record_t, msg));
    if (r->lane_id != seen->id)
        seen->foreign++;
    if (err == ING_OK) {
        seen->ok++;
    } else {
        seen->failed++;
        if (ing_err_is_retriable(err))
            seen->retriable_failures++;
    }
    free(r);
}

/* Produces one record of lane_id from this thread; on failure frees it, why says why. */
static ing_err_t send_one(gw_producer_lane_t *l, int lane_id, char *why, size_t why_size)
{
    test_record_t *r = calloc(1, sizeof(*r));
    char *value = strdup("a record");
    r->lane_id = lane_id;
    r->producer_thread = pthread_self();
    ing_err_t err =
        gw_producer_send(l, "295109912611193", 15, value, strlen(value), &r->msg, why, why_size);
    if (err) {
        free(value);
        free(r);
    }
    return err;
}

static bool send_records(ing_test_counts_t *t, gw_producer_lane_t *l, int lane_id, int n)
{
    for (int i = 0; i < n; i++) {
        char why[128];
        ing_err_t err = send_one(l, lane_id, why, sizeof(why));
        CHECK(t, err == ING_OK, "send: %s", err ? why : "");
        if (err)
            return false;
    }
    return true;
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

static bool readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static gw_producer_t *producer_for(ing_test_counts_t *t, const char *bootstraps, int timeout_ms)
{
    cfg_passthrough_t kafka = {0};
    kafka.count = 2;
    strcpy(kafka.items[0].key, "bootstrap.servers");
    snprintf(kafka.items[0].value, sizeof(kafka.items[0].value), "%s", bootstraps);
    strcpy(kafka.items[1].key, "message.timeout.ms");
    snprintf(kafka.items[1].value, sizeof(kafka.items[1].value), "%d", timeout_ms);
    gw_producer_conf_t conf = {.kafka = &kafka,
                               .topic = "gw.test",
                               .max_record_bytes = 1 << 20,
                               .client_id = "test-gateway",
                               .lanes = 2};
    gw_producer_t *p = NULL;
    char errstr[512];
    CHECK(t, gw_producer_create(&conf, &p, errstr, sizeof(errstr)) == ING_OK, "create: %s", errstr);
    return p;
}

/* librdkafka's mock cluster of one broker, with the test topic; it lives in an owner handle. */
typedef struct mock {
    rd_kafka_t *owner;
    rd_kafka_mock_cluster_t *mc;
} mock_t;

static bool mock_start(ing_test_counts_t *t, mock_t *m, int partitions)
{
    char errstr[512];
    m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof(errstr));
    m->mc = m->owner ? rd_kafka_mock_cluster_new(m->owner, 1) : NULL;
    CHECK(t, m->mc != NULL, "mock cluster");
    if (m->mc)
        rd_kafka_mock_topic_create(m->mc, "gw.test", partitions, 1);
    return m->mc != NULL;
}

static void mock_stop(mock_t *m)
{
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->owner)
        rd_kafka_destroy(m->owner);
}

/* Two lanes into p, calling back into *seen_a and *seen_b. */
static bool lanes_for(ing_test_counts_t *t, gw_producer_t *p, lane_seen_t *seen_a,
                      lane_seen_t *seen_b, gw_producer_lane_t **a, gw_producer_lane_t **b)
{
    char errstr[512];
    CHECK(t, gw_producer_lane_create(p, on_delivery, seen_a, a, errstr, sizeof(errstr)) == ING_OK,
          "lane a: %s", errstr);
    CHECK(t, gw_producer_lane_create(p, on_delivery, seen_b, b, errstr, sizeof(errstr)) == ING_OK,
          "lane b: %s", errstr);
    return *a && *b;
}

static void test_reports_reach_their_lane(ing_test_counts_t *t)
{
    mock_t m = {0};
    if (!mock_start(t, &m, 1))
        return;
    /* One partition: reports come back in production order, so once lane B has all of its
     * own, it has also taken all of lane A's, produced first. */
    gw_producer_t *p = producer_for(t, rd_kafka_mock_cluster_bootstraps(m.mc), 10000);
    lane_seen_t seen_a = {.id = 1}, seen_b = {.id = 2};
    gw_producer_lane_t *a = NULL, *b = NULL;
    if (p && lanes_for(t, p, &seen_a, &seen_b, &a, &b) && send_records(t, a, 1, 20) &&
        send_records(t, b, 2, 10)) {
        CHECK(t, gw_producer_lane_outstanding(a) == 20 && gw_producer_lane_outstanding(b) == 10,
              "outstanding %zu %zu", gw_producer_lane_outstanding(a),
              gw_producer_lane_outstanding(b));
        for (int i = 0; i < 1000 && gw_producer_lane_outstanding(b) > 0; i++) {
            gw_producer_serve(b, -1);
            nap_ms(10);
        }
        CHECK(t, seen_b.ok == 10 && seen_b.failed == 0 && seen_b.foreign == 0,
              "lane b called back for its own 10: ok %d failed %d foreign %d", seen_b.ok,
              seen_b.failed, seen_b.foreign);
        CHECK(t, seen_a.ok + seen_a.failed == 0, "lane a not called back by lane b's thread");
        CHECK(t, readable(gw_producer_lane_fd(a)), "lane a woken through its inbox");
        CHECK(t, !readable(gw_producer_lane_fd(b)), "lane b's inbox untouched");
        gw_producer_serve(a, gw_producer_lane_fd(a));
        CHECK(t, seen_a.ok == 20 && seen_a.foreign == 0 && gw_producer_lane_outstanding(a) == 0,
              "lane a called back for its 20: ok %d foreign %d outstanding %zu", seen_a.ok,
              seen_a.foreign, gw_producer_lane_outstanding(a));
        CHECK(t, !readable(gw_producer_lane_fd(a)), "lane a's wake-up consumed");
        CHECK(t, !gw_producer_brokers_down(p), "broker up after deliveries");
    }
    gw_producer_lane_finish(a, 1000);
    gw_producer_lane_finish(b, 1000);
    gw_producer_shutdown(p, 1000);
    gw_producer_lane_destroy(a);
    gw_producer_lane_destroy(b);
    gw_producer_destroy(p);
    mock_stop(&m);
}

/* No broker at all (a port nothing listens on): nothing is delivered, the producer says so,
 * and shut-down reports every record once, to its own lane, as retriable. */
static void test_shutdown_reports_undelivered(ing_test_counts_t *t)
{
    gw_producer_t *p = producer_for(t, "127.0.0.1:1", 60000);
    lane_seen_t seen_a = {.id = 1}, seen_b = {.id = 2};
    gw_producer_lane_t *a = NULL, *b = NULL;
    if (p && lanes_for(t, p, &seen_a, &seen_b, &a, &b) && send_records(t, a, 1, 5) &&
        send_records(t, b, 2, 3)) {
        for (int i = 0; i < 500 && !gw_producer_brokers_down(p); i++) {
            gw_producer_serve(a, -1);
            nap_ms(10);
        }
        CHECK(t, gw_producer_brokers_down(p), "all brokers down seen");
        gw_producer_lane_finish(a, 100);
        gw_producer_lane_finish(b, 100);
        CHECK(t, gw_producer_lane_outstanding(a) == 5 && gw_producer_lane_outstanding(b) == 3,
              "still outstanding after a bounded finish: %zu %zu", gw_producer_lane_outstanding(a),
              gw_producer_lane_outstanding(b));
        gw_producer_shutdown(p, 2000);
        CHECK(t, seen_a.ok + seen_a.failed + seen_b.ok + seen_b.failed == 0,
              "shutdown itself calls nobody back");
    }
    gw_producer_lane_destroy(a);
    gw_producer_lane_destroy(b);
    CHECK(t, seen_a.failed == 5 && seen_a.retriable_failures == 5 && seen_a.foreign == 0,
          "lane a: 5 retriable failures, got %d (%d retriable, %d foreign)", seen_a.failed,
          seen_a.retriable_failures, seen_a.foreign);
    CHECK(t, seen_b.failed == 3 && seen_b.retriable_failures == 3 && seen_b.foreign == 0,
          "lane b: 3 retriable failures, got %d (%d retriable, %d foreign)", seen_b.failed,
          seen_b.retriable_failures, seen_b.foreign);
    CHECK(t, seen_a.ok + seen_b.ok == 0, "nothing reported delivered");
    gw_producer_destroy(p);
}

/* One loop of the threaded case: its own lane, the shared queue's fd (EPOLLEXCLUSIVE) and its
 * inbox's eventfd, as gw_loop has them. */
typedef struct loop_arg {
    gw_producer_t *p;
    pthread_barrier_t *start;
    int id, records;
    lane_seen_t seen;
    int wrong_thread, inbox_wakes, send_failures;
    bool finished;
} loop_arg_t;

static void on_threaded_delivery(void *cb_opaque, gw_producer_msg_t *msg, ing_err_t err,
                                 const char *why)
{
    loop_arg_t *a = cb_opaque;
    test_record_t *r = (test_record_t *)((char *)msg - offsetof(test_record_t, msg));
    if (!pthread_equal(r->producer_thread, pthread_self()))
        a->wrong_thread++;
    on_delivery(&a->seen, msg, err, why); /* frees r */
}

static void *loop_main(void *arg)
{
    loop_arg_t *a = arg;
    char errstr[256];
    gw_producer_lane_t *l = NULL;
    int epfd = epoll_create1(0);
    if (gw_producer_lane_create(a->p, on_threaded_delivery, a, &l, errstr, sizeof(errstr)))
        goto out;
    struct epoll_event shared = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = 1};
    struct epoll_event inbox = {.events = EPOLLIN, .data.u32 = 2};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, gw_producer_fd(a->p), &shared) != 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, gw_producer_lane_fd(l), &inbox) != 0)
        goto out;
    pthread_barrier_wait(a->start);
    int sent = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        /* produce in slices between serving, so that both threads' records are in flight */
        for (int i = 0; i < 50 && sent < a->records; i++, sent++) {
            char why[128];
            if (send_one(l, a->id, why, sizeof(why)) != ING_OK)
                a->send_failures++;
        }
        if (sent == a->records && gw_producer_lane_outstanding(l) == 0)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 30)
            break;
        struct epoll_event evs[4];
        int n = epoll_wait(epfd, evs, 4, 10);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u32 == 2)
                a->inbox_wakes++;
            gw_producer_serve(l,
                              evs[i].data.u32 == 1 ? gw_producer_fd(a->p) : gw_producer_lane_fd(l));
        }
        if (n == 0)
            gw_producer_serve(l, -1);
    }
    a->finished = sent == a->records && gw_producer_lane_outstanding(l) == 0;
    gw_producer_lane_finish(l, 1000);
out:
    gw_producer_lane_destroy(l);
    close(epfd);
    return NULL;
}

static void test_threads_call_back_on_their_own_thread(ing_test_counts_t *t)
{
    mock_t m = {0};
    if (!mock_start(t, &m, 4))
        return;
    gw_producer_t *p = producer_for(t, rd_kafka_mock_cluster_bootstraps(m.mc), 10000);
    if (p) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        loop_arg_t args[2] = {{.p = p, .start = &start, .id = 1, .records = 3000},
                              {.p = p, .start = &start, .id = 2, .records = 3000}};
        args[0].seen.id = 1;
        args[1].seen.id = 2;
        pthread_t tids[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&tids[i], NULL, loop_main, &args[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(tids[i], NULL);
        pthread_barrier_destroy(&start);
        for (int i = 0; i < 2; i++) {
            loop_arg_t *a = &args[i];
            CHECK(t, a->finished && a->send_failures == 0, "loop %d: finished %d, %d not sent",
                  a->id, a->finished, a->send_failures);
            CHECK(t, a->seen.ok == a->records && a->seen.failed == 0 && a->seen.foreign == 0,
                  "loop %d: ok %d of %d, failed %d, foreign %d", a->id, a->seen.ok, a->records,
                  a->seen.failed, a->seen.foreign);
            CHECK(t, a->wrong_thread == 0, "loop %d: %d callbacks on the other thread", a->id,
                  a->wrong_thread);
        }
        /* Each batch of reports wakes one loop, which hands the other's records over. */
        CHECK(t, args[0].inbox_wakes + args[1].inbox_wakes > 0, "reports were handed over (%d, %d)",
              args[0].inbox_wakes, args[1].inbox_wakes);
        gw_producer_shutdown(p, 1000);
        gw_producer_destroy(p);
    }
    mock_stop(&m);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_reports_reach_their_lane(&t);
    test_shutdown_reports_undelivered(&t);
    test_threads_call_back_on_their_own_thread(&t);
    return ING_TEST_END(&t);
}
