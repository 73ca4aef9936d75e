/*
 * ingestctl: the operators' command. Reads the workers' configuration file.
 *
 *   ingestctl [-c FILE] topics create     create worker.topic and worker.dlq_topic (idempotent)
 *   ingestctl [-c FILE] topics describe   partition counts and replication of both topics
 *   ingestctl [-c FILE] patient oppose INS     refuse this patient's documents from now on
 *   ingestctl [-c FILE] patient unoppose INS   lift the opposition
 *
 * Exit status: 0 success, 1 the operation failed (reason on stderr), 2 usage or configuration.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "ing_log.h"
#include "wk_kafka.h"
#include "wk_patient.h"
#include "wk_settings.h"
#include "wk_topics.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out, "usage: ingestctl [-c FILE] COMMAND\n"
                 "\n"
                 "commands:\n"
                 "  topics create     create worker.topic and worker.dlq_topic; existing is fine\n"
                 "  topics describe   show partitions and replication of both topics\n"
                 "  patient oppose INS     refuse this patient's new documents (audited)\n"
                 "  patient unoppose INS   lift the opposition (audited)\n"
                 "\n"
                 "options:\n"
                 "  -c, --config FILE   worker configuration (the same file as ingest-worker)\n"
                 "  -h, --help          this help\n"
                 "\n"
                 "exit status: 0 success, 1 the operation failed, 2 usage or configuration\n");
}

static int topics_describe(rd_kafka_t *rk, const wk_settings_t *s)
{
    const char *names[2] = {s->topic, s->dlq_topic};
    wk_topic_info_t info[2];
    char errstr[512];
    if (wk_topics_describe(rk, names, 2, (int)s->admin_timeout_ms, info, errstr, sizeof(errstr))) {
        fprintf(stderr, "ingestctl: topics describe: %s\n", errstr);
        return EXIT_FAILED;
    }
    int rc = EXIT_OK;
    for (int i = 0; i < 2; i++) {
        if (!info[i].exists) {
            printf("%s: missing\n", names[i]);
            rc = EXIT_FAILED;
            continue;
        }
        printf("%s: partitions=%d replication=%d\n", names[i], info[i].partitions,
               info[i].replication_factor);
    }
    if (rc)
        fprintf(stderr, "ingestctl: some topics are missing (ingestctl topics create)\n");
    return rc;
}

static int topics_create(rd_kafka_t *rk, const wk_settings_t *s)
{
    wk_topic_spec_t specs[2] = {
        {s->topic, (int)s->topic_partitions, (int)s->replication_factor},
        {s->dlq_topic, (int)s->dlq_partitions, (int)s->replication_factor},
    };
    wk_topic_result_t results[2];
    char errstr[512] = "";
    ing_err_t err =
        wk_topics_create(rk, specs, 2, (int)s->admin_timeout_ms, results, errstr, sizeof(errstr));
    if (err && errstr[0]) {
        fprintf(stderr, "ingestctl: topics create: %s (%s)\n", errstr, ing_err_name(err));
        return EXIT_FAILED;
    }
    /* An existing topic may have been created with another layout: say so, change nothing. */
    const char *names[2] = {s->topic, s->dlq_topic};
    wk_topic_info_t info[2] = {{0}};
    bool described = wk_topics_describe(rk, names, 2, (int)s->admin_timeout_ms, info, errstr,
                                        sizeof(errstr)) == ING_OK;
    for (int i = 0; i < 2; i++) {
        switch (results[i].outcome) {
        case WK_TOPIC_CREATED:
            printf("%s: created partitions=%d replication=%d\n", specs[i].name, specs[i].partitions,
                   specs[i].replication_factor);
            break;
        case WK_TOPIC_EXISTED:
            if (described && info[i].exists) {
                printf("%s: exists partitions=%d replication=%d\n", specs[i].name,
                       info[i].partitions, info[i].replication_factor);
                if (info[i].partitions != specs[i].partitions)
                    fprintf(stderr,
                            "ingestctl: warning: %s has %d partitions, the configuration says "
                            "%d; left unchanged\n",
                            specs[i].name, info[i].partitions, specs[i].partitions);
            } else {
                printf("%s: exists\n", specs[i].name);
            }
            break;
        case WK_TOPIC_FAILED:
            fprintf(stderr, "ingestctl: topic %s: %s (%s)\n", specs[i].name, results[i].reason,
                    ing_err_name(results[i].err));
            break;
        }
    }
    return err ? EXIT_FAILED : EXIT_OK;
}

static int patient_oppose(const wk_settings_t *s, const char *ins, bool opposed)
{
    if (!s->db_url[0]) {
        fprintf(stderr, "ingestctl: worker.db_url is not set\n");
        return EXIT_USAGE;
    }
    const char *actor = getenv("USER");
    if (!actor || !*actor)
        actor = "unknown";
    char errstr[512];
    ing_err_t err = wk_patient_set_opposed(s->db_url, ins, opposed, actor, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "ingestctl: patient %s: %s (%s)\n", opposed ? "oppose" : "unoppose", errstr,
                ing_err_name(err));
        return err == ING_ERR_INS_INVALID ? EXIT_USAGE : EXIT_FAILED;
    }
    /* The INS is the patient's identifier: printed back to the operator who typed it. */
    printf("patient %s: %s\n", ins, opposed ? "opposed" : "not opposed");
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    bool is_create = nargs == 2 && !strcmp(args[0], "topics") && !strcmp(args[1], "create");
    bool is_describe = nargs == 2 && !strcmp(args[0], "topics") && !strcmp(args[1], "describe");
    bool is_patient = nargs == 3 && !strcmp(args[0], "patient") &&
                      (!strcmp(args[1], "oppose") || !strcmp(args[1], "unoppose"));
    if (!is_create && !is_describe && !is_patient) {
        usage(stderr);
        return EXIT_USAGE;
    }

    static wk_settings_t settings; /* large; main()'s, read-only once loaded */
    static cfg_passthrough_t kafka;
    char errstr[512];
    if (wk_settings_load(&settings, config, &kafka, errstr, sizeof(errstr))) {
        fprintf(stderr, "ingestctl: %s\n", errstr);
        return EXIT_USAGE;
    }
    ing_log_init((ing_log_level_t)ing_log_level_parse(settings.log_level));
    if (is_patient)
        return patient_oppose(&settings, args[2], !strcmp(args[1], "oppose"));

    rd_kafka_conf_t *conf =
        wk_kafka_conf_new(WK_KAFKA_ADMIN, &kafka, NULL, NULL, errstr, sizeof(errstr));
    rd_kafka_t *rk = conf ? wk_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)) : NULL;
    if (!rk) {
        fprintf(stderr, "ingestctl: kafka: %s\n", errstr);
        return EXIT_USAGE;
    }
    int rc = is_create ? topics_create(rk, &settings) : topics_describe(rk, &settings);
    rd_kafka_destroy(rk);
    return rc;
}
