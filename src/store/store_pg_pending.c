/* store_pg_pending.c — the functions of store.h not written for PostgreSQL yet (pg_internal.h): each
 * logs that it is missing and answers STORE_ERROR, so that a caller fails loudly instead of silently. */
#include "store/pg_internal.h"
#include "store/store.h"
#include "util/log.h"

store_status pg_not_yet(const char *function)
{
    log_error("not implemented on PostgreSQL yet", "function=%s", function);
    return STORE_ERROR;
}

store_status pg_store_upload_insert(pg_store *s, const upload_record *upload, int64_t quota_bytes,
                                    int64_t now, upload_record **evicted, size_t *evicted_count)
{
    return pg_not_yet("store_upload_insert");
}

store_status pg_store_upload_get(pg_store *s, const char *id, upload_record *out)
{
    return pg_not_yet("store_upload_get");
}

store_status pg_store_upload_usage(pg_store *s, const char *key_id, int64_t now, int64_t *bytes,
                                   int64_t *count)
{
    return pg_not_yet("store_upload_usage");
}

store_status pg_store_uploads_take_expired(pg_store *s, int64_t now, size_t limit, upload_record **out,
                                           size_t *count)
{
    return pg_not_yet("store_uploads_take_expired");
}
