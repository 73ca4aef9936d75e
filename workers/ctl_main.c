/*
 * ingestctl: the operators' command. Reads the workers' configuration file.
 *
 *   ingestctl [-c FILE] topics create     create worker.topic and worker.dlq_topic (idempotent)
 *   ingestctl [-c FILE] topics describe   partition counts and replication of both topics
 *   ingestctl [-c FILE] patient oppose INS     refuse this patient's documents from now on
 *   ingestctl [-c FILE] patient unoppose INS   lift the opposition
 *   ingestctl [-c FILE] patient show INS       the space and its documents' metadata (audited)
 *   ingestctl [-c FILE] keyring init|rotate [FILE]   create a keyring / add a new active key
 *   ingestctl [-c FILE] document show SUBMISSION_ID [--out FILE]   read one back (audited)
 *   ingestctl [-c FILE] dict train --type-code CODE (--from-dir DIR | --from-db N) [--size B]
 *   ingestctl [-c FILE] dict bench --train-dir DIR --test-dir DIR [--size B]
 *   ingestctl [-c FILE] dlq tail TOPIC N   headers of the last N dead letters
 *   ingestctl [-c FILE] maintain [--days-ahead N] [--keep-days N]   daily partition upkeep
 *
 * Exit status: 0 success, 1 the operation failed (reason on stderr), 2 usage or configuration,
 * 3 (maintain) done, but accepted submissions past the retention have no final status.
 */
#include <getopt.h>
#include <pwd.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "ing_crypto.h"
#include "ing_log.h"
#include "wk_dict.h"
#include "wk_dicttool.h"
#include "wk_dlqtail.h"
#include "wk_document.h"
#include "wk_kafka.h"
#include "wk_keyfile.h"
#include "wk_maintain.h"
#include "wk_patient.h"
#include "wk_settings.h"
#include "wk_topics.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNFINISHED = 3 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ingestctl [-c FILE] COMMAND\n"
            "\n"
            "commands:\n"
            "  topics create     create worker.topic and worker.dlq_topic; existing is fine\n"
            "  topics describe   show partitions and replication of both topics\n"
            "  patient oppose INS     refuse this patient's new documents (audited)\n"
            "  patient unoppose INS   lift the opposition (audited)\n"
            "  patient show INS       the patient's space: opposition, and its stored\n"
            "                         documents' metadata, newest first (audited)\n"
            "  keyring init [FILE]    create a keyring with one new random key (mode 0600;\n"
            "                         FILE defaults to worker.keyring; never overwrites)\n"
            "  keyring rotate [FILE]  retire the active key, add a new active one (restart\n"
            "                         the workers afterwards)\n"
            "  document show SUBMISSION_ID [--out FILE]\n"
            "                         decrypt, decompress and verify one stored document;\n"
            "                         print its metadata, write the content only to a new\n"
            "                         FILE (audited)\n"
            "  dict train --type-code CODE (--from-dir DIR | --from-db N) [--size BYTES]\n"
            "                         train a zstd dictionary (default 112640 bytes) from the\n"
            "                         files of DIR or the newest N stored documents\n"
            "                         (audited) and store it, sealed, for the workers\n"
            "  dict bench --train-dir DIR --test-dir DIR [--size BYTES]\n"
            "                         ratio and speed with and without a dictionary\n"
            "  dlq tail TOPIC N       headers of the last N records of a dead-letter topic\n"
            "                         (never the document)\n"
            "  maintain [--days-ahead N] [--keep-days N]\n"
            "                         run daily: create the week partitions of the gateway's\n"
            "                         'accepted' rows for today + N days (default 7), drop\n"
            "                         those older than the retention (default 35 days) unless\n"
            "                         they hold a submission without a final status"
            "\n"
            "options:\n"
            "  -c, --config FILE   worker configuration (the same file as ingest-worker)\n"
            "  -h, --help          this help\n"
            "\n"
            "exit status: 0 success, 1 the operation failed, 2 usage or configuration, 3\n"
            "(maintain) done, but accepted submissions past the retention have no final status\n");
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

/* Who acts, for the audit: the human behind sudo first, then the login, then the uid. */
static const char *actor_name(void)
{
    static const char *const vars[] = {"SUDO_USER", "USER", "LOGNAME"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return v;
    }
    const struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

static int patient_oppose(const wk_settings_t *s, const char *ins, bool opposed)
{
    if (!s->db_url[0]) {
        fprintf(stderr, "ingestctl: worker.db_url is not set\n");
        return EXIT_USAGE;
    }
    char errstr[512];
    ing_err_t err =
        wk_patient_set_opposed(s->db_url, ins, opposed, actor_name(), errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "ingestctl: patient %s: %s (%s)\n", opposed ? "oppose" : "unoppose", errstr,
                ing_err_name(err));
        return err == ING_ERR_INS_INVALID ? EXIT_USAGE : EXIT_FAILED;
    }
    /* The INS is the patient's identifier: printed back to the operator who typed it. */
    printf("patient %s: %s\n", ins, opposed ? "opposed" : "not opposed");
    return EXIT_OK;
}

static int patient_show(const wk_settings_t *s, const char *ins)
{
    if (!s->db_url[0]) {
        fprintf(stderr, "ingestctl: worker.db_url is not set\n");
        return EXIT_USAGE;
    }
    char errstr[512];
    ing_err_t err = wk_patient_show(s->db_url, ins, actor_name(), stdout, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "ingestctl: patient show: %s (%s)\n", errstr, ing_err_name(err));
        return err == ING_ERR_INS_INVALID ? EXIT_USAGE : EXIT_FAILED;
    }
    return EXIT_OK;
}

static int keyring_cmd(const wk_settings_t *s, const char *verb, const char *file)
{
    const char *path = file ? file : s->keyring;
    if (!path[0]) {
        fprintf(stderr, "ingestctl: keyring %s: give FILE or set worker.keyring\n", verb);
        return EXIT_USAGE;
    }
    char errstr[512], new_id[ING_KEY_ID_MAX + 1], old_id[ING_KEY_ID_MAX + 1];
    bool init = strcmp(verb, "init") == 0;
    ing_err_t err = init ? wk_keyfile_init(path, new_id, errstr, sizeof(errstr))
                         : wk_keyfile_rotate(path, new_id, old_id, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "ingestctl: keyring %s: %s (%s)\n", verb, errstr, ing_err_name(err));
        return EXIT_FAILED;
    }
    if (init)
        printf("keyring %s: created, active key %s\n", path, new_id);
    else
        printf("keyring %s: active key %s, retired %s (restart the workers to use it)\n", path,
               new_id, old_id);
    return EXIT_OK;
}

static ing_keyring_t *load_keyring(const wk_settings_t *s)
{
    char errstr[512];
    ing_keyring_t *kr = NULL;
    if (!s->keyring[0]) {
        fprintf(stderr, "ingestctl: worker.keyring is not set (ingestctl keyring init FILE "
                        "creates one)\n");
        return NULL;
    }
    if (ing_keyring_load(s->keyring, &kr, errstr, sizeof(errstr))) {
        fprintf(stderr, "ingestctl: %s\n", errstr);
        return NULL;
    }
    return kr;
}

static int document_show(const wk_settings_t *s, int nargs, char **args)
{
    const char *sid = NULL, *out = NULL;
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "--out") == 0 && i + 1 < nargs)
            out = args[++i];
        else if (args[i][0] != '-' && !sid)
            sid = args[i];
        else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!sid || !s->db_url[0]) {
        fprintf(stderr, "ingestctl: document show: %s\n",
                sid ? "worker.db_url is not set" : "SUBMISSION_ID missing");
        return EXIT_USAGE;
    }
    ing_keyring_t *kr = load_keyring(s);
    if (!kr)
        return EXIT_USAGE;
    char errstr[512];
    ing_err_t err =
        wk_document_show(s->db_url, kr, sid, out, actor_name(), stdout, errstr, sizeof(errstr));
    ing_keyring_destroy(kr);
    if (err) {
        fprintf(stderr, "ingestctl: document show: %s (%s)\n", errstr, ing_err_name(err));
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static int dict_cmd(const wk_settings_t *s, const char *verb, int nargs, char **args)
{
    const char *type_code = NULL, *from_dir = NULL, *train_dir = NULL, *test_dir = NULL;
    long from_db = 0;
    long long size = WK_DICT_DEFAULT_BYTES;
    for (int i = 0; i < nargs; i++) {
        const char *v = i + 1 < nargs ? args[i + 1] : NULL;
        if (!v) {
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!strcmp(args[i], "--type-code"))
            type_code = v;
        else if (!strcmp(args[i], "--from-dir"))
            from_dir = v;
        else if (!strcmp(args[i], "--from-db"))
            from_db = strtol(v, NULL, 10);
        else if (!strcmp(args[i], "--train-dir"))
            train_dir = v;
        else if (!strcmp(args[i], "--test-dir"))
            test_dir = v;
        else if (!strcmp(args[i], "--size"))
            size = strtoll(v, NULL, 10);
        else {
            usage(stderr);
            return EXIT_USAGE;
        }
        i++;
    }
    if (size < 1024 || size > WK_DICT_MAX_BYTES) {
        fprintf(stderr, "ingestctl: --size must be 1024..%d bytes\n", WK_DICT_MAX_BYTES);
        return EXIT_USAGE;
    }
    char errstr[512] = "";
    if (strcmp(verb, "bench") == 0) {
        if (!train_dir || !test_dir) {
            fprintf(stderr, "ingestctl: dict bench needs --train-dir and --test-dir\n");
            return EXIT_USAGE;
        }
        ing_err_t err = wk_dicttool_bench(train_dir, test_dir, (int)s->zstd_level, (size_t)size,
                                          stdout, errstr, sizeof(errstr));
        if (err)
            fprintf(stderr, "ingestctl: dict bench: %s (%s)\n", errstr, ing_err_name(err));
        return err ? EXIT_FAILED : EXIT_OK;
    }
    if (!type_code || (!from_dir) == (from_db <= 0) || !s->db_url[0]) {
        fprintf(stderr, "ingestctl: dict train needs --type-code and one of --from-dir DIR, "
                        "--from-db N (N >= 1), and worker.db_url\n");
        return EXIT_USAGE;
    }
    ing_keyring_t *kr = load_keyring(s);
    if (!kr)
        return EXIT_USAGE;
    wk_dict_train_req_t req = {s->db_url, kr,           type_code,          from_dir,
                               from_db,   (size_t)size, (int)s->zstd_level, actor_name()};
    ing_err_t err = wk_dicttool_train(&req, stdout, errstr, sizeof(errstr));
    ing_keyring_destroy(kr);
    if (err) {
        fprintf(stderr, "ingestctl: dict train: %s (%s)\n", errstr, ing_err_name(err));
        return err == ING_ERR_INVALID_FIELD ? EXIT_USAGE : EXIT_FAILED;
    }
    return EXIT_OK;
}

static int dlq_tail(const wk_settings_t *s, const cfg_passthrough_t *kafka, const char *topic,
                    const char *count)
{
    char *end = NULL;
    long n = strtol(count, &end, 10);
    if (*end || n < 1 || n > 100000) {
        fprintf(stderr, "ingestctl: dlq tail: N must be 1..100000\n");
        return EXIT_USAGE;
    }
    char errstr[512];
    ing_err_t err =
        wk_dlq_tail(kafka, topic, (int)n, (int)s->admin_timeout_ms, stdout, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "ingestctl: dlq tail: %s (%s)\n", errstr, ing_err_name(err));
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static int maintain_cmd(const wk_settings_t *s, int nargs, char **args)
{
    long days_ahead = 7, keep_days = 35;
    for (int i = 0; i < nargs; i += 2) {
        char *end = NULL;
        long v = i + 1 < nargs ? strtol(args[i + 1], &end, 10) : -1;
        bool number = end && end != args[i + 1] && !*end;
        if (number && !strcmp(args[i], "--days-ahead") && v >= 0 && v <= 366)
            days_ahead = v;
        else if (number && !strcmp(args[i], "--keep-days") && v >= 1 && v <= 3660)
            keep_days = v;
        else {
            fprintf(stderr, "ingestctl: maintain: --days-ahead 0..366, --keep-days 1..3660\n");
            return EXIT_USAGE;
        }
    }
    if (!s->db_url[0]) {
        fprintf(stderr, "ingestctl: worker.db_url is not set\n");
        return EXIT_USAGE;
    }
    char errstr[512];
    wk_maintain_report_t r;
    ing_err_t err = wk_maintain_run(s->db_url, (int)days_ahead, (int)keep_days, stdout, &r, errstr,
                                    sizeof(errstr));
    if (err) {
        fprintf(stderr, "ingestctl: maintain: %s (%s)\n", errstr, ing_err_name(err));
        return EXIT_FAILED;
    }
    printf("maintain: %d created, %d dropped, %d kept, %lld old rows deleted\n", r.created,
           r.dropped, r.kept, (long long)r.trimmed);
    if (r.unfinished > 0) {
        fprintf(stderr,
                "ingestctl: maintain: %lld accepted submissions older than %ld days have no "
                "final status: their documents were never stored (kept; check the workers' lag "
                "and the dead-letter topic)\n",
                (long long)r.unfinished, keep_days);
        return EXIT_UNFINISHED;
    }
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
#define IS(i, word) (nargs > (i) && strcmp(args[i], (word)) == 0)
    bool is_create = nargs == 2 && IS(0, "topics") && IS(1, "create");
    bool is_describe = nargs == 2 && IS(0, "topics") && IS(1, "describe");
    bool is_patient = nargs == 3 && IS(0, "patient") && (IS(1, "oppose") || IS(1, "unoppose"));
    bool is_patient_show = nargs == 3 && IS(0, "patient") && IS(1, "show");
    bool is_keyring =
        (nargs == 2 || nargs == 3) && IS(0, "keyring") && (IS(1, "init") || IS(1, "rotate"));
    bool is_show = nargs >= 3 && IS(0, "document") && IS(1, "show");
    bool is_dict = nargs >= 2 && IS(0, "dict") && (IS(1, "train") || IS(1, "bench"));
    bool is_dlq = nargs == 4 && IS(0, "dlq") && IS(1, "tail");
    bool is_maintain = nargs >= 1 && IS(0, "maintain");
#undef IS
    if (!is_create && !is_describe && !is_patient && !is_patient_show && !is_keyring && !is_show &&
        !is_dict && !is_dlq && !is_maintain) {
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
    if (is_patient_show)
        return patient_show(&settings, args[2]);
    if (is_keyring)
        return keyring_cmd(&settings, args[1], nargs == 3 ? args[2] : NULL);
    if (is_show)
        return document_show(&settings, nargs - 2, args + 2);
    if (is_dict)
        return dict_cmd(&settings, args[1], nargs - 2, args + 2);
    if (is_dlq)
        return dlq_tail(&settings, &kafka, args[2], args[3]);
    if (is_maintain)
        return maintain_cmd(&settings, nargs - 1, args + 1);

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
