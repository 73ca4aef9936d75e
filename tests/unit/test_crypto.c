/* Encryption at rest: keyring rules, round trip, and every way a sealed document must not
 * open (wrong patient, damaged bytes, unknown key). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ing_crypto.h"
#include "ing_test.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

static const char *write_keyring(const char *text, mode_t mode)
{
    static char path[64];
    strcpy(path, "/tmp/ing-test-keyring-XXXXXX");
    int fd = mkstemp(path);
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return NULL;
    fchmod(fd, mode);
    close(fd);
    return path;
}

static ing_err_t load(const char *text, mode_t mode, ing_keyring_t **k, char *err)
{
    const char *path = write_keyring(text, mode);
    ing_err_t rc = ing_keyring_load(path, k, err, 256);
    unlink(path);
    return rc;
}

int main(void)
{
    ing_test_counts_t t = {0};
    char err[256];
    ing_keyring_t *old_ring, *ring;

    static const struct {
        const char *text;
        mode_t mode;
        const char *why;
    } bad[] = {
        {"k1\t" KEY_A "\tactive\n", 0644, "readable by group or others"},
        {"k1\t" KEY_A "\tretired\n", 0600, "no active key"},
        {"k1\t" KEY_A "\tactive\nk2\t" KEY_B "\tactive\n", 0600, "second active"},
        {"k1\t" KEY_A "\tactive\nk1\t" KEY_B "\tretired\n", 0600, "appears twice"},
        {"k1\t0011\tactive\n", 0600, "64 lowercase hex"},
        {"k1\t" KEY_A "\tmaybe\n", 0600, "active or retired"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ing_keyring_t *k = NULL;
        err[0] = '\0';
        CHECK(&t, load(bad[i].text, bad[i].mode, &k, err) != ING_OK && strstr(err, bad[i].why),
              "bad keyring %zu: \"%s\"", i, err);
    }

    CHECK(&t, load("# first key\nk1\t" KEY_A "\tactive\n", 0600, &old_ring, err) == ING_OK,
          "load: %s", err);
    CHECK(&t, load("k1\t" KEY_A "\tretired\nk2\t" KEY_B "\tactive\n", 0600, &ring, err) == ING_OK,
          "load rotated: %s", err);
    CHECK(&t, strcmp(ing_keyring_active_id(ring), "k2") == 0, "active id");

    ing_sealer_t *old_sealer, *sealer;
    CHECK(&t, ing_sealer_create(old_ring, &old_sealer) == ING_OK, "sealer");
    CHECK(&t, ing_sealer_create(ring, &sealer) == ING_OK, "sealer");

    const char *plain = "Compte rendu: hemoglobine 13.2 g/dL, plaquettes 250 G/L";
    uint8_t aad[256], other_aad[256];
    size_t aad_len = ing_document_aad("295109912611193", "750712184", "LAB-1", 1, aad, 256);
    size_t other_len = ing_document_aad("279035121518989", "750712184", "LAB-1", 1, other_aad, 256);
    ing_buf_t sealed, opened;
    ing_buf_init(&sealed, 1 << 16);
    ing_buf_init(&opened, 1 << 16);
    uint8_t nonce[ING_GCM_NONCE_LEN], nonce2[ING_GCM_NONCE_LEN];
    const char *key_id = NULL;

    /* Sealed under the first keyring, it still opens after rotation (retired key). */
    CHECK(&t,
          ing_seal(old_sealer, aad, aad_len, plain, strlen(plain), nonce, &key_id, &sealed) ==
                  ING_OK &&
              strcmp(key_id, "k1") == 0,
          "seal");
    CHECK(&t, sealed.len == strlen(plain) + ING_GCM_TAG_LEN, "sealed length");
    CHECK(&t, memmem(sealed.data, sealed.len, "hemoglobine", 11) == NULL, "no plaintext");
    CHECK(&t,
          ing_open(sealer, "k1", nonce, aad, aad_len, sealed.data, sealed.len, &opened) == ING_OK &&
              opened.len == strlen(plain) && memcmp(opened.data, plain, opened.len) == 0,
          "open with retired key after rotation");

    ing_buf_reset(&opened);
    CHECK(&t,
          ing_open(sealer, "k1", nonce, other_aad, other_len, sealed.data, sealed.len, &opened) ==
              ING_ERR_RECORD,
          "another patient's AAD must not open");
    sealed.data[3] ^= 1;
    CHECK(&t,
          ing_open(sealer, "k1", nonce, aad, aad_len, sealed.data, sealed.len, &opened) ==
              ING_ERR_RECORD,
          "damaged ciphertext must not open");
    sealed.data[3] ^= 1;
    CHECK(&t,
          ing_open(sealer, "k2", nonce, aad, aad_len, sealed.data, sealed.len, &opened) ==
              ING_ERR_RECORD,
          "wrong key must not open");
    CHECK(&t,
          ing_open(sealer, "k9", nonce, aad, aad_len, sealed.data, sealed.len, &opened) ==
              ING_ERR_CONFIG,
          "unknown key id");

    /* New documents use the active key and a fresh nonce each time. */
    ing_buf_reset(&sealed);
    CHECK(&t,
          ing_seal(sealer, aad, aad_len, plain, strlen(plain), nonce, &key_id, &sealed) == ING_OK &&
              strcmp(key_id, "k2") == 0,
          "seal with active key");
    CHECK(&t,
          ing_seal(sealer, aad, aad_len, plain, strlen(plain), nonce2, &key_id, &sealed) == ING_OK,
          "seal again");
    CHECK(&t, memcmp(nonce, nonce2, sizeof(nonce)) != 0, "nonces differ");

    /* A run of documents through one sealer, longer than its pool of nonces and with an open
     * in between (the context switches direction and back): every one opens with its own
     * nonce and AAD, and no nonce comes twice. */
    enum { RUN = 150 };
    static uint8_t nonces[RUN][ING_GCM_NONCE_LEN];
    static size_t offsets[RUN + 1];
    char text[RUN][64];
    ing_buf_reset(&sealed);
    bool run_ok = true;
    for (int i = 0; i < RUN && run_ok; i++) {
        snprintf(text[i], sizeof(text[i]), "compte rendu %d: glycemie %d.%d mmol/L", i, 4 + i % 3,
                 i % 10);
        char doc_id[32];
        snprintf(doc_id, sizeof(doc_id), "LAB-%d", i);
        size_t len = ing_document_aad("295109912611193", "750712184", doc_id, 1, aad, 256);
        offsets[i] = sealed.len;
        run_ok = ing_seal(sealer, aad, len, text[i], strlen(text[i]), nonces[i], &key_id,
                          &sealed) == ING_OK;
        if (run_ok && i == RUN / 2) {
            ing_buf_reset(&opened);
            run_ok = ing_open(sealer, "k2", nonces[i], aad, len, sealed.data + offsets[i],
                              sealed.len - offsets[i], &opened) == ING_OK;
        }
    }
    offsets[RUN] = sealed.len;
    CHECK(&t, run_ok, "a run of seals (with an open in the middle)");
    int opened_ok = 0, repeated = 0;
    for (int i = 0; i < RUN && run_ok; i++) {
        char doc_id[32];
        snprintf(doc_id, sizeof(doc_id), "LAB-%d", i);
        size_t len = ing_document_aad("295109912611193", "750712184", doc_id, 1, aad, 256);
        ing_buf_reset(&opened);
        if (ing_open(sealer, "k2", nonces[i], aad, len, sealed.data + offsets[i],
                     offsets[i + 1] - offsets[i], &opened) == ING_OK &&
            opened.len == strlen(text[i]) && memcmp(opened.data, text[i], opened.len) == 0)
            opened_ok++;
        for (int j = 0; j < i; j++)
            repeated += memcmp(nonces[i], nonces[j], ING_GCM_NONCE_LEN) == 0;
    }
    CHECK(&t, opened_ok == RUN, "%d of %d documents of the run open", opened_ok, RUN);
    CHECK(&t, repeated == 0, "%d nonces came twice", repeated);

    ing_buf_fini(&sealed);
    ing_buf_fini(&opened);
    ing_sealer_destroy(old_sealer);
    ing_sealer_destroy(sealer);
    ing_keyring_destroy(old_ring);
    ing_keyring_destroy(ring);
    return ING_TEST_END(&t);
}
