/* The settings table: defaults, file, environment, bounds, unknown keys, kafka passthrough. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_kafka.h"
#include "cfg_settings.h"
#include "ing_test.h"

extern char **environ;

typedef struct settings {
    char listen[64];
    long long threads;
    bool trust;
    char secret[32];
    char path[256];
} settings_t;

static const cfg_setting_t table[] = {
    {"gw.listen", CFG_STRING, offsetof(settings_t, listen), 64, "127.0.0.1:8080", 0, 0, false,
     "address"},
    {"gw.threads", CFG_INT, offsetof(settings_t, threads), 0, "2", 1, 64, false, "threads"},
    {"gw.trust_loopback", CFG_BOOL, offsetof(settings_t, trust), 0, "false", 0, 0, false, "t"},
    {"gw.db_url", CFG_STRING, offsetof(settings_t, secret), 32, "", 0, 0, true, "db"},
    {"gw.file", CFG_PATH, offsetof(settings_t, path), 256, "x.tsv", 0, 0, false, "file"},
    CFG_END,
};

static ing_err_t load_text(const char *text, settings_t *s, cfg_passthrough_t *k, char *err)
{
    char path[] = "/tmp/ing-test-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    ing_err_t rc = cfg_load(table, s, path, k, err, 256);
    unlink(path);
    return rc;
}

int main(void)
{
    ing_test_counts_t t = {0};
    settings_t s;
    cfg_passthrough_t k;
    char err[256] = "";

    /* Hermetic: the caller's ING_* variables (a sourced stack env file...) are not ours. */
    for (char **e = environ; *e;) {
        if (strncmp(*e, "ING_", 4) == 0) {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
            unsetenv(name);
        } else {
            e++;
        }
    }
    CHECK(&t, cfg_load(table, &s, NULL, &k, err, sizeof(err)) == ING_OK, "defaults: %s", err);
    CHECK(&t, strcmp(s.listen, "127.0.0.1:8080") == 0 && s.threads == 2 && !s.trust,
          "default values");

    CHECK(&t,
          load_text("# comment\ngw.threads = 4   # trailing\n gw.trust_loopback=on\n"
                    "gw.file = data/codes.tsv\nkafka.linger.ms = 5\n",
                    &s, &k, err) == ING_OK,
          "file: %s", err);
    CHECK(&t, s.threads == 4 && s.trust, "file values");
    CHECK(&t, strncmp(s.path, "/tmp/data/codes.tsv", 19) == 0, "relative path: %s", s.path);
    CHECK(&t,
          k.count == 1 && strcmp(k.items[0].key, "linger.ms") == 0 &&
              strcmp(k.items[0].value, "5") == 0,
          "kafka passthrough");

    static const struct {
        const char *text;
        const char *want_in_error;
    } bad[] = {
        {"gw.nope = 1\n", "unknown setting \"gw.nope\""},
        {"gw.threads = 0\n", "from 1 to 64"},
        {"gw.threads = 4x\n", "integer"},
        {"gw.trust_loopback = maybe\n", "true or false"},
        {"gw.listen\n", "expected name = value"},
        {"gw.db_url = postgresql://a-very-long-url-that-does-not-fit\n", "longer than"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(&t,
              load_text(bad[i].text, &s, &k, err) == ING_ERR_CONFIG && strstr(err, ":1: ") &&
                  strstr(err, bad[i].want_in_error),
              "bad config %zu: error \"%s\"", i, err);
    }

    setenv("ING_GW_THREADS", "8", 1);
    setenv("ING_KAFKA_MESSAGE_TIMEOUT_MS", "5000", 1);
    CHECK(&t, load_text("gw.threads = 4\n", &s, &k, err) == ING_OK && s.threads == 8,
          "environment wins over file");
    int found = 0;
    for (int i = 0; i < k.count; i++)
        found += strcmp(k.items[i].key, "message.timeout.ms") == 0 &&
                 strcmp(k.items[i].value, "5000") == 0;
    CHECK(&t, found == 1, "kafka property from the environment");
    setenv("ING_GW_THREADS", "100", 1);
    CHECK(&t, load_text("", &s, &k, err) == ING_ERR_CONFIG && strstr(err, "ING_GW_THREADS"),
          "bad environment value: %s", err);
    unsetenv("ING_GW_THREADS");
    unsetenv("ING_KAFKA_MESSAGE_TIMEOUT_MS");

    /* The dump redacts secrets. */
    CHECK(&t, load_text("gw.db_url = postgresql://u:pw@h/d\n", &s, &k, err) == ING_OK, "load");
    char dump[2048] = "";
    FILE *m = fmemopen(dump, sizeof(dump), "w");
    cfg_print(table, &s, &k, m);
    fclose(m);
    CHECK(&t, strstr(dump, "gw.db_url = <redacted>") && !strstr(dump, "pw@"), "secret redacted: %s",
          dump);

    /* librdkafka refuses an unknown property at start-up, naming it. */
    k.count = 1;
    strcpy(k.items[0].key, "no.such.property");
    strcpy(k.items[0].value, "1");
    rd_kafka_conf_t *conf = cfg_kafka_conf_new(NULL, &k, err, sizeof(err));
    CHECK(&t, conf == NULL && strstr(err, "kafka.no.such.property"), "unknown kafka key: %s", err);
    strcpy(k.items[0].key, "linger.ms");
    static const char *const defaults[] = {"acks", "all", NULL};
    conf = cfg_kafka_conf_new(defaults, &k, err, sizeof(err));
    CHECK(&t, conf != NULL, "known kafka key: %s", err);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return ING_TEST_END(&t);
}
