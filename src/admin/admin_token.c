/* admin_token.c — the admin token (admin.h): "rla_" and 32 random bytes in URL-safe base64, shown once;
 * the database keeps only the hex of its SHA-256 (store_secret_hash, as for API keys), as the cluster
 * fact ADMIN_TOKEN_FACT, read on every check so that a rotation reaches every node at once. */
#include <sodium.h>
#include <string.h>

#include "admin/admin_internal.h"
#include "util/ids.h"

enum { TOKEN_RANDOM_BYTES = 32, HASH_HEX_SIZE = 2 * STORE_KEY_HASH_SIZE + 1 };

/* A new token into token and the hex of its hash into hex. */
static void token_make(char token[ADMIN_TOKEN_SIZE], char hex[HASH_HEX_SIZE])
{
    ids_random_token(token, ADMIN_TOKEN_SIZE, ADMIN_TOKEN_PREFIX, TOKEN_RANDOM_BYTES);
    unsigned char hash[STORE_KEY_HASH_SIZE];
    store_secret_hash(token, hash);
    sodium_bin2hex(hex, HASH_HEX_SIZE, hash, sizeof(hash));
}

store_status admin_token_issue_once(store *db, char token[ADMIN_TOKEN_SIZE], bool *issued)
{
    char hex[HASH_HEX_SIZE], stored[HASH_HEX_SIZE + 1];
    *issued = false;
    token_make(token, hex);
    store_status status = store_fact_claim(db, ADMIN_TOKEN_FACT, hex, stored, sizeof(stored));
    *issued = status == STORE_OK && strcmp(stored, hex) == 0;
    if (!*issued) sodium_memzero(token, ADMIN_TOKEN_SIZE);
    return status == STORE_OK ? STORE_OK : STORE_ERROR;
}

store_status admin_token_rotate(store *db, char token[ADMIN_TOKEN_SIZE])
{
    char hex[HASH_HEX_SIZE];
    token_make(token, hex);
    if (store_fact_set(db, ADMIN_TOKEN_FACT, hex) == STORE_OK) return STORE_OK;
    sodium_memzero(token, ADMIN_TOKEN_SIZE);
    return STORE_ERROR;
}

store_status admin_token_check(store *db, const char *presented)
{
    char stored[HASH_HEX_SIZE + 1];
    store_status status = store_fact_get(db, ADMIN_TOKEN_FACT, stored, sizeof(stored));
    if (status != STORE_OK) return status;
    unsigned char expected[STORE_KEY_HASH_SIZE], given[STORE_KEY_HASH_SIZE];
    size_t length = 0;
    if (sodium_hex2bin(expected, sizeof(expected), stored, strlen(stored), NULL, &length, NULL) != 0 ||
        length != sizeof(expected))
        return STORE_NOT_FOUND; /* not a hash this program wrote: nothing matches it */
    store_secret_hash(presented, given);
    return sodium_memcmp(expected, given, sizeof(given)) == 0 ? STORE_OK : STORE_NOT_FOUND;
}
