/* callback_url.h — whether a client-given callback URL may be accepted at submit.
 *
 * Rules (specs/foxapi-api.md §2.2): an absolute https URL of at most 2048 characters, without user
 * info, whose host is not a private, loopback, link-local or otherwise non-public address literal, nor
 * "localhost" or a name under ".localhost". A host matching the allow-list (REELAY_FETCH_ALLOW, as for
 * fetches) may be anything and may use http — that is how tests reach their own loopback receivers.
 * A public-looking name is accepted here; the address it resolves to is checked again at every
 * delivery, at connect time, by the guarded client. Pure: no DNS, no I/O. */
#ifndef REELAY_NET_CALLBACK_URL_H
#define REELAY_NET_CALLBACK_URL_H

#include <stdbool.h>
#include <stddef.h>

#define CALLBACK_URL_MAX_LENGTH 2048

/* True when url may be used; otherwise false with a one-sentence reason in why. */
bool callback_url_acceptable(const char *url, const char *allow_list, char *why, size_t why_size);

#endif
