/* fuzz_blob_link.c — signed links as received (object name, expires and signature from the query) through
 * link_verify, and links made by link_sign_url read back. Asserts that a link is only ever valid or
 * expired when its signature is the HMAC of exactly that name and expiry (and valid only before it),
 * that changing the name always tampers it, and that every link the signer makes verifies. */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "blob/link.h"
#include "fuzz_common.h"

#define NOW INT64_C(1700000000)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_CHECK(sodium_init() >= 0);
    return 0;
}

static void expected_hex(const link_signer *signer, const char *name, const char *expires, char *hex)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, signer->secret, sizeof(signer->secret));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)name, strlen(name));
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)expires, strlen(expires));
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_bin2hex(hex, 2 * sizeof(mac) + 1, mac, sizeof(mac));
}

static void check_verdict(const link_signer *signer, const char *name, const char *expires,
                          const char *signature)
{
    link_verdict verdict = link_verify(signer, name, expires, signature, NOW);
    FUZZ_CHECK(verdict == LINK_VALID || verdict == LINK_TAMPERED || verdict == LINK_EXPIRED);
    if (verdict == LINK_TAMPERED) return;
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    expected_hex(signer, name, expires, hex);
    FUZZ_CHECK(strcasecmp(hex, signature) == 0);
    FUZZ_CHECK(expires[0] != '\0' && strspn(expires, "0123456789") == strlen(expires));
    FUZZ_CHECK((verdict == LINK_VALID) == (NOW < strtoll(expires, NULL, 10)));
    size_t length = strlen(name);
    char *changed = malloc(length + 2);
    if (changed == NULL) abort();
    memcpy(changed, name, length + 1);
    if (length > 0)
        changed[length - 1] ^= 0x01;
    else
        changed[0] = 'x', changed[1] = '\0';
    FUZZ_CHECK(link_verify(signer, changed, expires, signature, NOW) == LINK_TAMPERED);
    free(changed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    link_signer signer;
    for (size_t i = 0; i < sizeof(signer.secret); i++)
        signer.secret[i] = (uint8_t)(fuzz_take_byte(&in) ^ 0x5c);
    int64_t expires = 0;
    for (int i = 0; i < 8; i++)
        expires = (int64_t)((uint64_t)expires << 8 | fuzz_take_byte(&in));
    char *name = fuzz_take_field(&in, '\n', NULL);
    char *expires_text = fuzz_take_field(&in, '\n', NULL);
    char *signature = fuzz_take_rest(&in, NULL);

    /* a link as received */
    check_verdict(&signer, name, expires_text, signature);

    /* a link as made, read back as the file handler reads its query */
    char url[4096];
    if (expires >= 0 &&
        link_sign_url(&signer, "https://reelay.example", name, expires, url, sizeof(url)) == 0) {
        const char *query = strrchr(url, '?'); /* the name may hold '?' of its own: the last one is ours */
        FUZZ_CHECK(query != NULL && strncmp(query, "?expires=", 9) == 0);
        const char *amp = strstr(query, "&signature=");
        FUZZ_CHECK(amp != NULL && strlen(amp + 11) == 2 * crypto_auth_hmacsha256_BYTES);
        char expires_back[32];
        FUZZ_CHECK((size_t)(amp - query - 9) < sizeof(expires_back));
        snprintf(expires_back, sizeof(expires_back), "%.*s", (int)(amp - query - 9), query + 9);
        FUZZ_CHECK(strtoll(expires_back, NULL, 10) == expires);
        link_verdict verdict = link_verify(&signer, name, expires_back, amp + 11, NOW);
        FUZZ_CHECK(verdict == (NOW >= expires ? LINK_EXPIRED : LINK_VALID));
        check_verdict(&signer, name, expires_back, amp + 11);
    }
    free(name);
    free(expires_text);
    free(signature);
    return 0;
}
