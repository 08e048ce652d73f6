/* link.h — signed, expiring links to stored objects.
 *
 * A link is /v1/files/<name>?expires=<unix seconds>&signature=<hex HMAC-SHA256(secret, name "\n" expires)>.
 * The 32-byte secret lives in <data>/link.secret (mode 0600), made on first use. Anyone holding a
 * link may download the object until it expires; changing any byte of the name, the expiry or the
 * signature makes it invalid. Verification compares in constant time. */
#ifndef REELAY_BLOB_LINK_H
#define REELAY_BLOB_LINK_H

#include <stddef.h>
#include <stdint.h>

#define LINK_SECRET_SIZE 32

typedef struct link_signer {
    unsigned char secret[LINK_SECRET_SIZE];
} link_signer;

/* Reads <data_dir>/link.secret, creating it with random bytes when absent. Returns 0 or -1. */
int link_signer_load(const char *data_dir, link_signer *out);

/* Writes "<public_url>/v1/files/<name>?expires=<expires>&signature=<hex>" into out (public_url without
 * a trailing slash). Returns 0, or -1 when it does not fit. */
int link_sign_url(const link_signer *signer, const char *public_url, const char *name, int64_t expires,
                  char *out, size_t out_size);

typedef enum { LINK_VALID = 0, LINK_TAMPERED, LINK_EXPIRED } link_verdict;

/* Checks a link's parts as received. A signature that does not match → LINK_TAMPERED (also for a
 * malformed expires or signature); a matching one past its expiry → LINK_EXPIRED. */
link_verdict link_verify(const link_signer *signer, const char *name, const char *expires_text,
                         const char *signature_hex, int64_t now);

#endif
