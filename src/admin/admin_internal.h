/* admin_internal.h — what the files of admin/ share (not the module's contract: that is admin.h). */
#ifndef REELAY_ADMIN_INTERNAL_H
#define REELAY_ADMIN_INTERNAL_H

#include "admin/admin.h"

/* Sets *result to a failure: outcome, the error code of util/error.c's table, the field at fault (its
 * JSON name, or NULL; written as ctx names fields: "base_url" or "--base-url") and the message, in which
 * each "{F}" is replaced by that field's name as the front end writes it. */
void admin_fail(const admin_context *ctx, admin_result *result, admin_outcome outcome, const char *code,
                const char *field, const char *format, ...) __attribute__((format(printf, 6, 7)));
/* Sets *result to done, with nothing changed yet. */
void admin_done(admin_result *result);
/* Appends " field=value" (printf-style value) to result->changed (cut short when full). Never give it a
 * secret. */
void admin_changed(admin_result *result, const char *field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* A store call failed: ADMIN_FAILED with 503 store_unavailable and `what` could not be done. */
void admin_fail_store(const admin_context *ctx, admin_result *result, const char *what);
/* Tells every node the key or channel (kind, engine/cluster_signals.h) changed; records a failure in
 * result->nodes_not_told. */
void admin_tell_nodes(const admin_context *ctx, admin_result *result, const char *kind, const char *body);
/* Text from outside for a name, a note, …: at most `maximum` bytes and no control characters. */
bool admin_text_is_plain(const char *text, size_t maximum);

#endif
