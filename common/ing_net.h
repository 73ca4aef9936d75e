/*
 * ing_net: listening addresses as the settings spell them ("host:port", "[v6]:port"), for the
 * gateway's listener and the worker's metrics endpoint.
 */
#ifndef ING_NET_H
#define ING_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "ing_error.h"

struct addrinfo;
struct sockaddr;

/**
 * Splits "host:port" / "[v6]:port" and resolves it for listening (passive: numeric or a name).
 * setting names the key in error messages ("gateway.listen").
 * @returns ING_OK with *res to free with freeaddrinfo, or ING_ERR_CONFIG with the reason.
 */
ing_err_t ing_net_resolve(const char *setting, const char *listen, struct addrinfo **res,
                          char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Whether the address is 127.0.0.0/8 or ::1. */
bool ing_net_is_loopback(const struct sockaddr *sa);

#endif
