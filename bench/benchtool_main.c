/*
 * ingest-benchtool: the measuring tools bench/run-suite drives. Each measuring subcommand
 * prints one JSON object on stdout (what run-suite parses) and messages on stderr.
 *
 *   fill-topic    produce N records in our format, as the gateway would, into a topic
 *   payload-file  same-size stand-ins of those records for Kafka's ProducerPerformance
 *   copy-rows     PostgreSQL COPY of the same documents, already compressed (timed: COPY only)
 *   samples       documents' contents as files, to train a zstd dictionary with ingestctl
 *   stages        CPU cost per document of each processing stage
 *   model         markdown of the CPU model from stage costs (tab-separated on stdin)
 *   table         markdown rows of the results table (tab-separated on stdin)
 *   cpu           CPU seconds of every process with a given command name
 *
 * Exit status: 0 success, 1 the measurement failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_copy.h"
#include "bt_docs.h"
#include "bt_fill.h"
#include "bt_model.h"
#include "bt_stages.h"
#include "ing_log.h"
#include "ing_time.h"

#ifndef BT_SOURCE_DIR
#define BT_SOURCE_DIR "."
#endif

typedef struct opts {
    bt_docs_conf_t docs;
    char type_codes[1024];
    unsigned long long count;
    const char *topic, *brokers, *pg_url, *out, *comm;
    int zstd_level, timeout_s;
    size_t sample;
    unsigned long long dict_samples, dict_seed, dict_size;
    double min_cpu_s, cores;
} opts_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ingest-benchtool COMMAND [options]\n"
            "  fill-topic   --topic T --count N    produce N records (acks=all, idempotent)\n"
            "  payload-file --out FILE --count N   ProducerPerformance payloads, same sizes\n"
            "  copy-rows    --count N              COPY N compressed rows into bench_copy\n"
            "               [--dict-samples N [--dict-seed S] [--dict-size BYTES]]\n"
            "                   compress with a dictionary trained from documents 0..N-1 of seed\n"
            "                   S (default 2), at most BYTES (default 112640, ingestctl's)\n"
            "  samples      --out DIR --count N    contents of documents 0..N-1, one file each\n"
            "  stages       [--sample N] [--min-cpu S]   CPU per document of each stage\n"
            "  model        --cores C < stages.tsv    markdown of the CPU model\n"
            "  table        < rows.tsv                markdown rows of the results table\n"
            "  cpu          --comm NAME               CPU seconds of processes named NAME\n"
            "options:\n"
            "  --size BYTES     lab report content size (default 8192; 0 = loadgen's 4-40 KB)\n"
            "  --seed N         generator seed (default 1, loadgen's default)\n"
            "  --pool N         distinct bodies (default 2000)   --patients N (default 10000)\n"
            "  --run-id ID      8 chars [0-9a-z] in document ids (default: from the clock)\n"
            "  --brokers LIST   default 127.0.0.1:9092\n"
            "  --pg-url URL     default postgresql://ingest:ingest@127.0.0.1:55432/ingest\n"
            "  --zstd-level N   default 3 (the worker's default)\n"
            "  --timeout S      fill-topic bound (default 600)\n"
            "  --type-codes F   default %s/config/type_codes.tsv\n",
            BT_SOURCE_DIR);
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"topic", required_argument, 0, 't'},
        {"count", required_argument, 0, 'n'},
        {"size", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'},
        {"pool", required_argument, 0, 'p'},
        {"patients", required_argument, 0, 'P'},
        {"run-id", required_argument, 0, 'r'},
        {"brokers", required_argument, 0, 'b'},
        {"pg-url", required_argument, 0, 'd'},
        {"zstd-level", required_argument, 0, 'z'},
        {"timeout", required_argument, 0, 'T'},
        {"type-codes", required_argument, 0, 'c'},
        {"out", required_argument, 0, 'o'},
        {"sample", required_argument, 0, 'm'},
        {"min-cpu", required_argument, 0, 'M'},
        {"cores", required_argument, 0, 'C'},
        {"comm", required_argument, 0, 'x'},
        {"dict-samples", required_argument, 0, 'D'},
        {"dict-seed", required_argument, 0, 'E'},
        {"dict-size", required_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't':
            o->topic = optarg;
            break;
        case 'n':
            o->count = strtoull(optarg, NULL, 10);
            break;
        case 's':
            o->docs.size = strtoull(optarg, NULL, 10);
            break;
        case 'S':
            o->docs.seed = strtoull(optarg, NULL, 10);
            break;
        case 'p':
            o->docs.pool = strtoull(optarg, NULL, 10);
            break;
        case 'P':
            o->docs.patients = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            if (strlen(optarg) != 8 ||
                strspn(optarg, "0123456789abcdefghijklmnopqrstuvwxyz") != 8) {
                fprintf(stderr, "ingest-benchtool: --run-id must be 8 characters [0-9a-z]\n");
                return 2;
            }
            memcpy(o->docs.run_id, optarg, 9);
            break;
        case 'b':
            o->brokers = optarg;
            break;
        case 'd':
            o->pg_url = optarg;
            break;
        case 'z':
            o->zstd_level = atoi(optarg);
            break;
        case 'T':
            o->timeout_s = atoi(optarg);
            break;
        case 'c':
            snprintf(o->type_codes, sizeof(o->type_codes), "%s", optarg);
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'm':
            o->sample = strtoull(optarg, NULL, 10);
            break;
        case 'M':
            o->min_cpu_s = atof(optarg);
            break;
        case 'C':
            o->cores = atof(optarg);
            break;
        case 'x':
            o->comm = optarg;
            break;
        case 'D':
            o->dict_samples = strtoull(optarg, NULL, 10);
            break;
        case 'E':
            o->dict_seed = strtoull(optarg, NULL, 10);
            break;
        case 'F':
            o->dict_size = strtoull(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ingest-benchtool: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    return 0;
}

static int open_docs(opts_t *o, bt_docs_t **docs)
{
    char err[512] = "";
    if (bt_docs_create(&o->docs, docs, err, sizeof(err)) != ING_OK) {
        fprintf(stderr, "ingest-benchtool: documents: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_fill(opts_t *o, bt_docs_t *docs)
{
    if (!o->topic || !o->count) {
        fprintf(stderr, "ingest-benchtool: fill-topic needs --topic and --count\n");
        return 2;
    }
    char err[512] = "";
    bt_fill_result_t r;
    ing_err_t e =
        bt_fill_topic(docs, o->brokers, o->topic, o->count, o->timeout_s, &r, err, sizeof(err));
    printf("{\"command\":\"fill-topic\",\"topic\":\"%s\",\"run_id\":\"%s\",\"delivered\":%llu,"
           "\"failed\":%llu,\"record_bytes\":%llu,\"content_bytes\":%llu,\"seconds\":%.6f,"
           "\"error\":\"%s\"}\n",
           o->topic, o->docs.run_id, (unsigned long long)r.delivered, (unsigned long long)r.failed,
           (unsigned long long)r.record_bytes, (unsigned long long)r.content_bytes, r.seconds,
           e ? ing_err_name(e) : "");
    if (e)
        fprintf(stderr, "ingest-benchtool: fill-topic: %s\n", err);
    return e ? 1 : 0;
}

static int cmd_payload(opts_t *o, bt_docs_t *docs)
{
    if (!o->out || !o->count) {
        fprintf(stderr, "ingest-benchtool: payload-file needs --out and --count\n");
        return 2;
    }
    FILE *f = fopen(o->out, "wb");
    if (!f) {
        fprintf(stderr, "ingest-benchtool: cannot write %s\n", o->out);
        return 1;
    }
    char err[512] = "";
    uint64_t bytes = 0;
    ing_err_t e = bt_payload_file(docs, o->count, f, &bytes, err, sizeof(err));
    if (fclose(f) != 0 && !e) {
        snprintf(err, sizeof(err), "closing %s failed", o->out);
        e = ING_ERR_IO;
    }
    if (e) {
        fprintf(stderr, "ingest-benchtool: payload-file: %s\n", err);
        return 1;
    }
    printf("{\"command\":\"payload-file\",\"out\":\"%s\",\"count\":%llu,\"record_bytes\":%llu,"
           "\"mean_record_bytes\":%.1f}\n",
           o->out, o->count, (unsigned long long)bytes, (double)bytes / (double)o->count);
    return 0;
}

/* The dictionary copy-rows compresses with: trained from another seed's documents, so that
 * the measured documents are not the training samples. */
static ing_err_t copy_dict(opts_t *o, ing_buf_t *dict, char *err, size_t errsz)
{
    bt_docs_conf_t conf = o->docs;
    conf.seed = o->dict_seed;
    bt_docs_t *samples = NULL;
    ing_err_t e = bt_docs_create(&conf, &samples, err, errsz);
    if (!e)
        e = bt_copy_train_dict(samples, o->dict_samples, o->dict_size, dict, err, errsz);
    bt_docs_destroy(samples);
    return e;
}

static int cmd_copy(opts_t *o, bt_docs_t *docs)
{
    if (!o->count) {
        fprintf(stderr, "ingest-benchtool: copy-rows needs --count\n");
        return 2;
    }
    char err[512] = "";
    ing_buf_t dict;
    ing_buf_init(&dict, o->dict_size);
    ing_err_t e = o->dict_samples ? copy_dict(o, &dict, err, sizeof(err)) : ING_OK;
    bt_copy_result_t r;
    if (!e)
        e = bt_copy_rows(docs, o->pg_url, o->count, o->zstd_level, o->dict_samples ? &dict : NULL,
                         &r, err, sizeof(err));
    size_t dict_bytes = dict.len;
    ing_buf_fini(&dict);
    if (e) {
        fprintf(stderr, "ingest-benchtool: copy-rows: %s\n", err);
        return 1;
    }
    printf("{\"command\":\"copy-rows\",\"rows\":%llu,\"content_bytes\":%llu,"
           "\"compressed_bytes\":%llu,\"stream_bytes\":%llu,\"seconds\":%.6f,"
           "\"rows_per_s\":%.1f,\"content_mb_per_s\":%.3f,\"pg_cpu_seconds\":%.3f,"
           "\"pg_cpu_s_per_row\":%.9f,\"dict_bytes\":%zu,\"dict_samples\":%llu}\n",
           (unsigned long long)r.rows, (unsigned long long)r.content_bytes,
           (unsigned long long)r.compressed_bytes, (unsigned long long)r.stream_bytes, r.seconds,
           (double)r.rows / r.seconds, (double)r.content_bytes / r.seconds / 1e6, r.pg_cpu_seconds,
           r.pg_cpu_seconds / (double)r.rows, dict_bytes, o->dict_samples);
    return 0;
}

/* One file per document, named by its index (zero-padded: name order is index order, the
 * order ingestctl dict train --from-dir reads them in). */
static int cmd_samples(opts_t *o, bt_docs_t *docs)
{
    if (!o->out || !o->count) {
        fprintf(stderr, "ingest-benchtool: samples needs --out and --count\n");
        return 2;
    }
    ing_buf_t json;
    ing_buf_init(&json, (size_t)64 << 20);
    ing_envelope_t env;
    ing_envelope_init(&env);
    unsigned long long bytes = 0;
    int rc = 0;
    for (unsigned long long i = 0; i < o->count && !rc; i++) {
        ing_record_meta_t meta;
        ing_problem_t problem;
        if (bt_docs_get(docs, i, &json, &env, &meta, &problem) != ING_OK) {
            fprintf(stderr, "ingest-benchtool: samples: document %llu: %s\n", i, problem.detail);
            rc = 1;
            break;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%08llu.xml", o->out, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(env.content, 1, env.content_len, f) != env.content_len) {
            fprintf(stderr, "ingest-benchtool: samples: %s: %s\n", path, strerror(errno));
            rc = 1;
        }
        if (f && fclose(f) != 0 && !rc) {
            fprintf(stderr, "ingest-benchtool: samples: %s: %s\n", path, strerror(errno));
            rc = 1;
        }
        bytes += env.content_len;
    }
    ing_envelope_fini(&env);
    ing_buf_fini(&json);
    if (!rc)
        printf("{\"command\":\"samples\",\"out\":\"%s\",\"count\":%llu,\"bytes\":%llu}\n", o->out,
               o->count, bytes);
    return rc;
}

static int cmd_stages(opts_t *o, bt_docs_t *docs)
{
    char err[512] = "";
    bt_stage_cost_t c[BT_STAGE__COUNT];
    ing_err_t e =
        bt_stages_measure(docs, o->sample, o->zstd_level, o->min_cpu_s, c, err, sizeof(err));
    if (e) {
        fprintf(stderr, "ingest-benchtool: stages: %s\n", err);
        return 1;
    }
    printf("{\"command\":\"stages\",\"zstd_level\":%d,\"sample\":%zu,\"stages\":{", o->zstd_level,
           o->sample);
    for (int s = 0; s < BT_STAGE__COUNT; s++)
        printf("%s\"%s\":{\"bytes_per_doc\":%.1f,\"cpu_s_per_doc\":%.9f,\"ns_per_byte\":%.4f,"
               "\"runs\":%llu}",
               s ? "," : "", bt_stage_name((bt_stage_t)s), c[s].bytes_per_doc, c[s].cpu_s_per_doc,
               c[s].cpu_ns_per_byte, c[s].runs);
    printf("}}\n");
    return 0;
}

static int cmd_model(opts_t *o)
{
    bt_model_t m = {0};
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof(line), stdin)) {
        lineno++;
        if (!bt_model_parse_line(&m, line)) {
            fprintf(stderr, "ingest-benchtool: model: line %d is not stage<TAB>where<TAB>cpu_s\n",
                    lineno);
            return 2;
        }
    }
    ing_buf_t out;
    ing_buf_init(&out, 1 << 20);
    ing_err_t e = bt_model_render(&m, o->cores, &out);
    if (!e)
        fwrite(out.data, 1, out.len, stdout);
    ing_buf_fini(&out);
    return e ? 1 : 0;
}

static int cmd_table(void)
{
    ing_buf_t out;
    ing_buf_init(&out, 1 << 20);
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), stdin) && !rc) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!bt_table_row(line, &out)) {
            fprintf(stderr, "ingest-benchtool: table: line %d is malformed\n", lineno);
            rc = 2;
        }
    }
    if (!rc)
        fwrite(out.data, 1, out.len, stdout);
    ing_buf_fini(&out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    ing_log_init(ING_LOG_WARN);
    const char *cmd = argv[1];
    opts_t o = {
        .docs = {.seed = 1, .size = 8192, .pool = 2000, .patients = 10000},
        .brokers = "127.0.0.1:9092",
        .pg_url = "postgresql://ingest:ingest@127.0.0.1:55432/ingest",
        .zstd_level = 3,
        .timeout_s = 600,
        .sample = 200,
        .min_cpu_s = 0.5,
        .cores = 2,
        .dict_seed = 2,
        .dict_size = 112640,
    };
    snprintf(o.type_codes, sizeof(o.type_codes), "%s/config/type_codes.tsv", BT_SOURCE_DIR);
    bt_run_id((uint64_t)(ing_wall_us() / 1000), o.docs.run_id);
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc)
        return rc;
    o.docs.type_codes_path = o.type_codes;
    if (strcmp(cmd, "model") == 0)
        return cmd_model(&o);
    if (strcmp(cmd, "table") == 0)
        return cmd_table();
    if (strcmp(cmd, "cpu") == 0) {
        if (!o.comm) {
            fprintf(stderr, "ingest-benchtool: cpu needs --comm\n");
            return 2;
        }
        printf("%.3f\n", bt_cpu_seconds_of(o.comm));
        return 0;
    }
    int (*fn)(opts_t *, bt_docs_t *) = strcmp(cmd, "fill-topic") == 0     ? cmd_fill
                                       : strcmp(cmd, "payload-file") == 0 ? cmd_payload
                                       : strcmp(cmd, "copy-rows") == 0    ? cmd_copy
                                       : strcmp(cmd, "stages") == 0       ? cmd_stages
                                       : strcmp(cmd, "samples") == 0      ? cmd_samples
                                                                          : NULL;
    if (!fn) {
        fprintf(stderr, "ingest-benchtool: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    bt_docs_t *docs = NULL;
    rc = open_docs(&o, &docs);
    if (!rc)
        rc = fn(&o, docs);
    bt_docs_destroy(docs);
    return rc;
}
