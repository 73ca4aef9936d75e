/* Keyring files: init (mode, one active key, never overwritten), rotate (old documents still
 * open, new ones use the new key, a bad file is left unchanged). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ing_test.h"
#include "wk_keyfile.h"

static ing_keyring_t *load(const char *path)
{
    char err[256];
    ing_keyring_t *kr = NULL;
    return ing_keyring_load(path, &kr, err, sizeof(err)) == ING_OK ? kr : NULL;
}

/* Seals "secret" with the file's active key; returns the sealed length (0 on failure). */
static size_t seal(const char *path, uint8_t nonce[ING_GCM_NONCE_LEN], ing_buf_t *out)
{
    ing_keyring_t *kr = load(path);
    ing_sealer_t *s = NULL;
    const char *kid;
    size_t n = 0;
    if (kr && ing_sealer_create(kr, &s) == ING_OK &&
        ing_seal(s, "aad", 3, "secret", 6, nonce, &kid, out) == ING_OK)
        n = out->len;
    ing_sealer_destroy(s);
    ing_keyring_destroy(kr);
    return n;
}

static bool opens(const char *path, const char *key_id, const uint8_t *nonce, const ing_buf_t *in)
{
    ing_keyring_t *kr = load(path);
    ing_sealer_t *s = NULL;
    ing_buf_t out;
    ing_buf_init(&out, 1024);
    bool ok = kr && ing_sealer_create(kr, &s) == ING_OK &&
              ing_open(s, key_id, nonce, "aad", 3, in->data, in->len, &out) == ING_OK &&
              out.len == 6 && memcmp(out.data, "secret", 6) == 0;
    ing_buf_fini(&out);
    ing_sealer_destroy(s);
    ing_keyring_destroy(kr);
    return ok;
}

int main(void)
{
    ing_test_counts_t t = {0};
    char dir[] = "/tmp/test_wk_keyfile.XXXXXX";
    CHECK(&t, mkdtemp(dir) != NULL, "mkdtemp");
    char path[256], err[512], id1[ING_KEY_ID_MAX + 1], id2[ING_KEY_ID_MAX + 1],
        old[ING_KEY_ID_MAX + 1];
    snprintf(path, sizeof(path), "%s/keyring", dir);

    umask(022); /* init must not depend on the caller's umask */
    CHECK(&t, wk_keyfile_init(path, id1, err, sizeof(err)) == ING_OK, "init: %s", err);
    struct stat st;
    CHECK(&t, stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
    CHECK(&t, strncmp(id1, "k-", 2) == 0 && strlen(id1) == 15, "key id %s", id1);
    ing_keyring_t *kr = load(path);
    CHECK(&t, kr && strcmp(ing_keyring_active_id(kr), id1) == 0, "active is %s", id1);
    ing_keyring_destroy(kr);
    CHECK(&t, wk_keyfile_init(path, id2, err, sizeof(err)) == ING_ERR_CONFIG, "never overwrites");

    uint8_t nonce[ING_GCM_NONCE_LEN];
    ing_buf_t sealed;
    ing_buf_init(&sealed, 1024);
    CHECK(&t, seal(path, nonce, &sealed) > 0, "seal with the first key");

    for (int round = 0; round < 3; round++) {
        CHECK(&t, wk_keyfile_rotate(path, id2, old, err, sizeof(err)) == ING_OK, "rotate: %s", err);
        CHECK(&t, strcmp(id2, old) != 0, "new key %s differs from %s", id2, old);
        kr = load(path);
        CHECK(&t, kr && strcmp(ing_keyring_active_id(kr), id2) == 0, "round %d: active %s", round,
              id2);
        ing_keyring_destroy(kr);
        CHECK(&t, opens(path, id1, nonce, &sealed), "round %d: the first document still opens",
              round);
    }
    CHECK(&t, stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode after rotate %o",
          st.st_mode & 0777);

    /* Files rotate refuses, unchanged: unreadable by policy, no active key, missing. */
    static const struct {
        const char *name, *text;
        int mode;
        ing_err_t want;
    } bad[] = {
        {"group-readable",
         "k-1\t0000000000000000000000000000000000000000000000000000000000000000"
         "\tactive\n",
         0640, ING_ERR_CONFIG},
        {"no active key",
         "k-1\t0000000000000000000000000000000000000000000000000000000000000000"
         "\tretired\n",
         0600, ING_ERR_CONFIG},
        {"short key", "k-1\t00\tactive\n", 0600, ING_ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s/bad%zu", dir, i);
        FILE *f = fopen(p, "w");
        fputs(bad[i].text, f);
        fclose(f);
        chmod(p, (mode_t)bad[i].mode);
        CHECK(&t, wk_keyfile_rotate(p, id2, old, err, sizeof(err)) == bad[i].want, "%s",
              bad[i].name);
        f = fopen(p, "r");
        char back[256] = "";
        size_t n = fread(back, 1, sizeof(back) - 1, f);
        fclose(f);
        back[n] = '\0';
        CHECK(&t, strcmp(back, bad[i].text) == 0, "%s: unchanged", bad[i].name);
        unlink(p);
    }
    snprintf(path, sizeof(path), "%s/missing", dir);
    CHECK(&t, wk_keyfile_rotate(path, id2, old, err, sizeof(err)) == ING_ERR_IO, "missing file");

    ing_buf_fini(&sealed);
    snprintf(path, sizeof(path), "%s/keyring", dir);
    unlink(path);
    rmdir(dir);
    return ING_TEST_END(&t);
}
