#include "wk_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ing_codec.h"

#define KEY_LEN 32
#define KEYFILE_MAX_BYTES (64 * 1024)
#define KEYFILE_MAX_KEYS 64 /* ing_crypto's limit */

#define HEADER                                                                                     \
    "# ingest keyring: key_id <TAB> 256-bit key (hex) <TAB> active|retired.\n"                     \
    "# Written by ingestctl keyring init|rotate. Never copy it into the repository or the\n"       \
    "# database; back it up apart from the database (without it no document can be read).\n"

/* A key line "id<TAB>hex<TAB>state\n" for a fresh random key, its id unique among ids[]. */
static ing_err_t new_key_line(char (*ids)[ING_KEY_ID_MAX + 1], int nids, char *line,
                              size_t line_size, char id[ING_KEY_ID_MAX + 1], char *errstr,
                              size_t errsz)
{
    uint8_t key[KEY_LEN];
    char hex[2 * KEY_LEN + 1];
    time_t now = time(NULL);
    struct tm tm;
    char day[16];
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    for (int attempt = 0;; attempt++) {
        uint8_t r[2];
        if (attempt == 100 || RAND_bytes(r, sizeof(r)) != 1) {
            snprintf(errstr, errsz, "cannot draw a unique key id");
            return ING_ERR_INTERNAL;
        }
        snprintf(id, ING_KEY_ID_MAX + 1, "k-%s-%02x%02x", day, r[0], r[1]);
        bool taken = false;
        for (int i = 0; i < nids && !taken; i++)
            taken = strcmp(ids[i], id) == 0;
        if (!taken)
            break;
    }
    if (RAND_bytes(key, sizeof(key)) != 1) {
        snprintf(errstr, errsz, "OpenSSL RAND_bytes failed");
        return ING_ERR_INTERNAL;
    }
    ing_hex_encode(key, sizeof(key), hex);
    hex[2 * KEY_LEN] = '\0';
    snprintf(line, line_size, "%s\t%s\tactive\n", id, hex);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(hex, sizeof(hex));
    return ING_OK;
}

static ing_err_t write_all(int fd, const char *data, size_t len, const char *path, char *errstr,
                           size_t errsz)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errstr, errsz, "cannot write %s: %s", path, strerror(errno));
            return ING_ERR_IO;
        }
        data += n;
        len -= (size_t)n;
    }
    return ING_OK;
}

/* Makes a rename or a creation in path's folder durable. */
static void sync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

ing_err_t wk_keyfile_init(const char *path, char new_id[ING_KEY_ID_MAX + 1], char *errstr,
                          size_t errstr_size)
{
    char line[256];
    ing_err_t err = new_key_line(NULL, 0, line, sizeof(line), new_id, errstr, errstr_size);
    if (err)
        return err;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        bool exists = errno == EEXIST;
        snprintf(errstr, errstr_size, "cannot create keyring %s: %s%s", path, strerror(errno),
                 exists ? " (never overwritten: its keys open the stored documents; use "
                          "'keyring rotate' for a new key)"
                        : "");
        OPENSSL_cleanse(line, sizeof(line));
        return exists ? ING_ERR_CONFIG : ING_ERR_IO;
    }
    if (fchmod(fd, 0600) != 0) { /* whatever the umask */
        snprintf(errstr, errstr_size, "chmod 600 %s: %s", path, strerror(errno));
        err = ING_ERR_IO;
    }
    if (!err)
        err = write_all(fd, HEADER, strlen(HEADER), path, errstr, errstr_size);
    if (!err)
        err = write_all(fd, line, strlen(line), path, errstr, errstr_size);
    if (!err && fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "fsync %s: %s", path, strerror(errno));
        err = ING_ERR_IO;
    }
    OPENSSL_cleanse(line, sizeof(line));
    close(fd);
    if (err) {
        unlink(path);
        return err;
    }
    sync_dir_of(path);
    return ING_OK;
}

/* Reads the whole file (bounded) into a NUL-terminated buffer (caller frees, cleanses). */
static ing_err_t read_file(const char *path, char **out, size_t *len, char *errstr, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errsz, "cannot open keyring %s: %s", path, strerror(errno));
        return ING_ERR_IO;
    }
    char *buf = malloc(KEYFILE_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ING_ERR_NOMEM;
    }
    size_t n = fread(buf, 1, KEYFILE_MAX_BYTES + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > KEYFILE_MAX_BYTES) {
        snprintf(errstr, errsz, "keyring %s: %s", path, bad ? "read error" : "larger than 64 KiB");
        OPENSSL_cleanse(buf, n < KEYFILE_MAX_BYTES ? n : KEYFILE_MAX_BYTES);
        free(buf);
        return bad ? ING_ERR_IO : ING_ERR_CONFIG;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ING_OK;
}

ing_err_t wk_keyfile_rotate(const char *path, char new_id[ING_KEY_ID_MAX + 1],
                            char retired_id[ING_KEY_ID_MAX + 1], char *errstr, size_t errstr_size)
{
    /* The current file must be a valid keyring (mode, syntax, one active key) first. */
    ing_keyring_t *kr = NULL;
    ing_err_t err = ing_keyring_load(path, &kr, errstr, errstr_size);
    if (err)
        return err;
    snprintf(retired_id, ING_KEY_ID_MAX + 1, "%s", ing_keyring_active_id(kr));
    ing_keyring_destroy(kr);

    char *text = NULL, *outbuf = NULL;
    size_t len = 0, outlen = 0;
    char tmp[4096] = "";
    int fd = -1;
    char(*ids)[ING_KEY_ID_MAX + 1] = calloc(KEYFILE_MAX_KEYS, sizeof(*ids));
    if (!ids)
        return ING_ERR_NOMEM;
    err = read_file(path, &text, &len, errstr, errstr_size);
    if (err)
        goto out;
    outbuf = malloc(len + 512);
    if (!outbuf) {
        err = ING_ERR_NOMEM;
        goto out;
    }
    /* Copy line by line; the active key's state becomes "retired". */
    int nids = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) + 1 : strlen(p);
        size_t idlen = strcspn(p, "\t \n");
        if (p[0] != '#' && p[0] != '\n' && idlen > 0 && idlen <= ING_KEY_ID_MAX) {
            if (nids == KEYFILE_MAX_KEYS) {
                snprintf(errstr, errstr_size,
                         "keyring %s already holds %d keys; remove retired keys no stored "
                         "document uses before rotating",
                         path, KEYFILE_MAX_KEYS);
                err = ING_ERR_CONFIG;
                goto out;
            }
            memcpy(ids[nids], p, idlen);
            ids[nids][idlen] = '\0';
            nids++;
        }
        bool active = idlen > 0 && strncmp(p, retired_id, idlen) == 0 &&
                      strlen(retired_id) == idlen && l >= 7 &&
                      strncmp(p + l - (nl ? 7 : 6), "active", 6) == 0;
        if (active) {
            size_t keep = l - (nl ? 7 : 6);
            memcpy(outbuf + outlen, p, keep);
            outlen += keep;
            memcpy(outbuf + outlen, "retired\n", 8);
            outlen += 8;
        } else {
            memcpy(outbuf + outlen, p, l);
            outlen += l;
            if (!nl)
                outbuf[outlen++] = '\n';
        }
        p += l;
    }
    if (nids == KEYFILE_MAX_KEYS) {
        snprintf(errstr, errstr_size, "keyring %s already holds %d keys (the most it may hold)",
                 path, KEYFILE_MAX_KEYS);
        err = ING_ERR_CONFIG;
        goto out;
    }
    char line[256];
    err = new_key_line(ids, nids, line, sizeof(line), new_id, errstr, errstr_size);
    if (err)
        goto out;
    memcpy(outbuf + outlen, line, strlen(line));
    outlen += strlen(line);
    OPENSSL_cleanse(line, sizeof(line));

    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    fd = mkstemp(tmp); /* 0600 */
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        err = ING_ERR_IO;
        goto out;
    }
    err = write_all(fd, outbuf, outlen, tmp, errstr, errstr_size);
    if (!err && fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "fsync %s: %s", tmp, strerror(errno));
        err = ING_ERR_IO;
    }
    if (err)
        goto out;
    /* The new file must load, with the new key active, before it replaces the old one. */
    err = ing_keyring_load(tmp, &kr, errstr, errstr_size);
    if (!err) {
        bool ok = strcmp(ing_keyring_active_id(kr), new_id) == 0;
        ing_keyring_destroy(kr);
        if (!ok) {
            snprintf(errstr, errstr_size, "the rotated keyring does not have %s active", new_id);
            err = ING_ERR_INTERNAL;
        }
    }
    if (!err && rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        err = ING_ERR_IO;
    }
    if (!err) {
        tmp[0] = '\0';
        sync_dir_of(path);
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    if (text) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    if (outbuf) {
        OPENSSL_cleanse(outbuf, outlen);
        free(outbuf);
    }
    free(ids);
    return err;
}
