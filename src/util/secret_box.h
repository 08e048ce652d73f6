/* secret_box.h — provider credentials encrypted at rest.
 *
 * A credential is sealed with libsodium's secretbox (XSalsa20-Poly1305) under a 32-byte key kept in
 * <data>/credentials.key (mode 0600, made on first use by util/secret_file.h). The sealed text is
 * base64url (no padding) of nonce ‖ ciphertext, so it can sit in any text column. Opening fails on
 * any change of a byte, or under another data folder's key. */
#ifndef REELAY_UTIL_SECRET_BOX_H
#define REELAY_UTIL_SECRET_BOX_H

#include <stddef.h>

#define SECRET_BOX_KEY_SIZE 32
#define SECRET_BOX_MAX_PLAIN 512 /* longest credential accepted */
#define SECRET_BOX_SEALED_SIZE                                                                               \
    768 /* room for a sealed credential of SECRET_BOX_MAX_PLAIN bytes, with NUL                              \
         */

typedef struct secret_box {
    unsigned char key[SECRET_BOX_KEY_SIZE];
} secret_box;

/* Reads <data_dir>/credentials.key, creating it when absent. Returns 0 or -1. */
int secret_box_load(const char *data_dir, secret_box *out);

/* Seals the NUL-terminated plain text (at most SECRET_BOX_MAX_PLAIN bytes) into out as text.
 * Returns 0, or -1 when plain is too long or out too small. */
int secret_box_seal(const secret_box *box, const char *plain, char *out, size_t out_size);

/* Opens sealed text into out (NUL-terminated). Returns 0, or -1 when it is malformed, was tampered
 * with, was sealed under another key, or does not fit. out is zeroed on failure. */
int secret_box_open(const secret_box *box, const char *sealed, char *out, size_t out_size);

/* A form of a credential safe to print: its first 4 and last 4 characters for credentials of 16 or
 * more characters ("sk-t…c0de"), else only "…" and its length. Never the whole secret. */
void secret_box_mask(const char *plain, char *out, size_t out_size);

#endif
