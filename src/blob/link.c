/* link.c — HMAC-SHA256 signed, expiring object links (see link.h). */
#include "blob/link.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/secret_file.h"

int link_signer_load(const char *data_dir, link_signer *out)
{
    return secret_file_load(data_dir, "link.secret", out->secret, sizeof(out->secret));
}

static void link_compute(const link_signer *signer, const char *name, const char *expires_text,
                         unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, signer->secret, sizeof(signer->secret));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)name, strlen(name));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)expires_text, strlen(expires_text));
    crypto_auth_hmacsha256_final(&state, mac);
}

int link_sign_url(const link_signer *signer, const char *public_url, const char *name, int64_t expires,
                  char *out, size_t out_size)
{
    char expires_text[24];
    snprintf(expires_text, sizeof(expires_text), "%" PRId64, expires);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    link_compute(signer, name, expires_text, mac);
    char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    int n = snprintf(out, out_size, "%s/v1/files/%s?expires=%s&signature=%s", public_url, name, expires_text,
                     hex);
    return (n < 0 || (size_t)n >= out_size) ? -1 : 0;
}

link_verdict link_verify(const link_signer *signer, const char *name, const char *expires_text,
                         const char *signature_hex, int64_t now)
{
    if (name == NULL || expires_text == NULL || signature_hex == NULL) return LINK_TAMPERED;
    size_t expires_length = strlen(expires_text);
    if (expires_length == 0 || expires_length > 19) return LINK_TAMPERED;
    for (size_t i = 0; i < expires_length; i++)
        if (expires_text[i] < '0' || expires_text[i] > '9') return LINK_TAMPERED;
    unsigned char given[crypto_auth_hmacsha256_BYTES];
    size_t given_length = 0;
    if (strlen(signature_hex) != sizeof(given) * 2 ||
        sodium_hex2bin(given, sizeof(given), signature_hex, strlen(signature_hex), NULL, &given_length,
                       NULL) != 0 ||
        given_length != sizeof(given))
        return LINK_TAMPERED;
    unsigned char expected[crypto_auth_hmacsha256_BYTES];
    link_compute(signer, name, expires_text, expected);
    if (sodium_memcmp(given, expected, sizeof(expected)) != 0) return LINK_TAMPERED;
    long long expires = strtoll(expires_text, NULL, 10);
    return now >= expires ? LINK_EXPIRED : LINK_VALID;
}
