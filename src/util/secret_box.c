/* secret_box.c — sealing provider credentials with libsodium's secretbox (see secret_box.h). */
#include "util/secret_box.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/secret_file.h"

#define BASE64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

int secret_box_load(const char *data_dir, secret_box *out)
{
    return secret_file_load(data_dir, "credentials.key", out->key, sizeof(out->key));
}

int secret_box_seal(const secret_box *box, const char *plain, char *out, size_t out_size)
{
    size_t plain_len = strlen(plain);
    if (plain_len > SECRET_BOX_MAX_PLAIN) return -1;
    unsigned char sealed[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + SECRET_BOX_MAX_PLAIN];
    size_t sealed_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain_len;
    if (sodium_base64_encoded_len(sealed_len, BASE64_VARIANT) > out_size) return -1;
    randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plain_len,
                          sealed, box->key);
    sodium_bin2base64(out, out_size, sealed, sealed_len, BASE64_VARIANT);
    return 0;
}

int secret_box_open(const secret_box *box, const char *sealed_text, char *out, size_t out_size)
{
    unsigned char sealed[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + SECRET_BOX_MAX_PLAIN];
    size_t sealed_len = 0;
    if (out_size == 0) return -1;
    memset(out, 0, out_size);
    if (sodium_base642bin(sealed, sizeof(sealed), sealed_text, strlen(sealed_text), NULL, &sealed_len, NULL,
                          BASE64_VARIANT) != 0 ||
        sealed_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return -1;
    size_t plain_len = sealed_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    if (plain_len + 1 > out_size) return -1;
    if (crypto_secretbox_open_easy((unsigned char *)out, sealed + crypto_secretbox_NONCEBYTES,
                                   sealed_len - crypto_secretbox_NONCEBYTES, sealed, box->key) != 0) {
        sodium_memzero(out, out_size);
        return -1;
    }
    out[plain_len] = '\0';
    if (strlen(out) != plain_len) { /* an embedded NUL was never sealed by us */
        sodium_memzero(out, out_size);
        return -1;
    }
    return 0;
}

void secret_box_mask(const char *plain, char *out, size_t out_size)
{
    size_t len = strlen(plain);
    if (len >= 16)
        snprintf(out, out_size, "%.4s…%s", plain, plain + len - 4);
    else
        snprintf(out, out_size, "…(%zu characters)", len);
}
