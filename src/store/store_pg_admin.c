/* store_pg_admin.c — the PostgreSQL side of what operators read and replace (store.h): a cluster fact
 * read or replaced (the admin token's hash), the summary of tasks by state and model, and each
 * channel's recent activity. The SQL is store_common.h's, shared with SQLite. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store_common.h"

store_status pg_store_fact_get(pg_store *s, const char *name, char *value, size_t value_size)
{
    const char *values[] = {name};
    PGresult *result = NULL;
    if (pg_query(s, "read fact", &result, "SELECT value FROM cluster_facts WHERE name = $1", 1, values) !=
        STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) >= 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) pg_copy_text(value, value_size, result, 0, 0);
    PQclear(result);
    return status;
}

store_status pg_store_fact_set(pg_store *s, const char *name, const char *value)
{
    const char *values[] = {name, value};
    PGresult *result = NULL;
    store_status status = pg_query(s, "replace fact", &result, ADMIN_SQL_FACT_SET("$1", "$2"), 2, values);
    PQclear(result);
    return status == STORE_OK ? STORE_OK : STORE_ERROR;
}

store_status pg_store_task_summary(pg_store *s, int64_t now, task_summary *out)
{
    pg_number minute, hour;
    const char *values[] = {pg_int(&minute, now - 60), pg_int(&hour, now - 3600)};
    PGresult *result = NULL;
    if (pg_query(s, "summarise tasks", &result, ADMIN_SQL_TASK_SUMMARY("$1::bigint", "$2::bigint"), 2,
                 values) != STORE_OK)
        return STORE_ERROR;
    bool fits = true;
    for (int i = 0; fits && i < PQntuples(result); i++) {
        fits = task_summary_add(out, PQgetvalue(result, i, 0), (int)pg_get_int(result, i, 1),
                                pg_get_int(result, i, 2));
        out->finished_last_minute += pg_get_int(result, i, 3);
        out->finished_last_hour += pg_get_int(result, i, 4);
    }
    PQclear(result);
    if (fits) return STORE_OK;
    free(out->models);
    memset(out, 0, sizeof(*out));
    return STORE_ERROR;
}

store_status pg_store_channel_activity(pg_store *s, int64_t since, channel_activity **out, size_t *count)
{
    pg_number since_text;
    const char *values[] = {pg_int(&since_text, since)};
    PGresult *result = NULL;
    if (pg_query(s, "read channel activity", &result, ADMIN_SQL_CHANNEL_ACTIVITY("$1::bigint"), 1, values) !=
        STORE_OK)
        return STORE_ERROR;
    int found = PQntuples(result);
    channel_activity *rows = found > 0 ? calloc((size_t)found, sizeof(*rows)) : NULL;
    if (found > 0 && rows == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int i = 0; i < found; i++) {
        pg_copy_text(rows[i].channel, sizeof(rows[i].channel), result, i, 0);
        rows[i].in_flight = pg_get_int(result, i, 1);
        rows[i].completed = pg_get_int(result, i, 2);
        rows[i].failed = pg_get_int(result, i, 3);
        rows[i].median_seconds = pg_get_int(result, i, 4);
    }
    PQclear(result);
    *out = rows;
    *count = (size_t)found;
    return STORE_OK;
}
