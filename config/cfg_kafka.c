#include "cfg_kafka.h"

#include <stdio.h>

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                     size_t errstr_size)
{
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return true;
    snprintf(errstr, errstr_size, "kafka.%s: %s", key, why);
    return false;
}

rd_kafka_conf_t *cfg_kafka_conf_new(const char *const *defaults, const cfg_passthrough_t *kafka,
                                    char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (const char *const *d = defaults; d && d[0]; d += 2)
        if (!conf_set(conf, d[0], d[1], errstr, errstr_size))
            goto fail;
    for (int i = 0; i < kafka->count; i++)
        if (!conf_set(conf, kafka->items[i].key, kafka->items[i].value, errstr, errstr_size))
            goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
