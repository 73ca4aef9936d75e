/*
 * evhttp_204: the libevent candidate for the gateway's HTTP layer, reduced to what the
 * comparison needs: read the whole POST body, answer 204. One event base per thread on a
 * shared SO_REUSEPORT port, like the gateway. Built and run only by
 * bench/candidates/compare (libevent-dev is not a dependency of the product).
 *   evhttp_204 PORT THREADS
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void answer(struct evhttp_request *req, void *arg __attribute__((unused)))
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    evbuffer_drain(in, evbuffer_get_length(in));
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static void *serve(void *arg)
{
    int port = *(int *)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        perror("bind/listen");
        exit(1);
    }
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_max_body_size(http, 64 << 20);
    evhttp_set_gencb(http, answer, NULL);
    evhttp_accept_socket(http, fd);
    event_base_dispatch(base);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: evhttp_204 PORT THREADS\n");
        return 2;
    }
    int port = atoi(argv[1]), threads = atoi(argv[2]);
    pthread_t tids[64];
    for (int i = 0; i < threads && i < 64; i++)
        pthread_create(&tids[i], NULL, serve, &port);
    for (int i = 0; i < threads && i < 64; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
