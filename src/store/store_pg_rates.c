/* store_pg_rates.c — the nodes' request counts per key and window on PostgreSQL (store.h "Request counts
 * per key across nodes"): one exchange is one statement, so it needs no transaction of its own. This
 * node's counts travel as two array parameters (key ids, counts) unnested into an upsert; the old
 * windows are deleted with SKIP LOCKED, so two nodes forgetting the same rows at once never wait for
 * (or deadlock on) each other. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"

/* The exchange: upsert ours ($3 key ids, $4 counts, duplicates folded to their largest), forget windows
 * before the previous one, and sum the other epochs' counts of this window. The CTEs' writes are not
 * visible to the final SELECT, which reads only other nodes' rows anyway. */
static const char EXCHANGE_SQL[] =
    "WITH mine AS ("
    "  INSERT INTO rate_counts AS r (minute, key_id, epoch, count)"
    "  SELECT $1::bigint, k, $2::bigint, MAX(c) FROM unnest($3::text[], $4::bigint[]) AS t(k, c)"
    "  WHERE k <> '' AND c >= 0 GROUP BY k"
    "  ON CONFLICT (minute, key_id, epoch) DO UPDATE SET count = GREATEST(r.count, EXCLUDED.count)),"
    " old AS ("
    "  DELETE FROM rate_counts WHERE ctid IN (SELECT ctid FROM rate_counts WHERE minute < $1::bigint - 1"
    "  FOR UPDATE SKIP LOCKED))"
    " SELECT key_id, SUM(count) FROM rate_counts WHERE minute = $1::bigint AND epoch <> $2::bigint"
    " GROUP BY key_id HAVING SUM(count) > 0";

/* A PostgreSQL array literal of own's key ids ("{\"a\",\"b\"}", each quoted, \ and " escaped) or of its
 * counts, malloc'd; NULL when out of memory. */
static char *array_literal(const rate_count *own, size_t count, bool key_ids)
{
    /* per element: quotes, every byte of a key id escaped (2 each), a comma; or 20 digits and a comma */
    size_t each = key_ids ? 2 * sizeof(own[0].key_id) + 3 : 24;
    char *text = malloc(count * each + 3);
    if (text == NULL) return NULL;
    size_t at = 0;
    text[at++] = '{';
    for (size_t i = 0; i < count; i++) {
        if (i > 0) text[at++] = ',';
        if (!key_ids) {
            at += (size_t)snprintf(text + at, 24, "%lld", (long long)own[i].count);
            continue;
        }
        text[at++] = '"';
        for (size_t j = 0; j < sizeof(own[i].key_id) && own[i].key_id[j]; j++) {
            char c = own[i].key_id[j];
            if (c == '"' || c == '\\') text[at++] = '\\';
            text[at++] = c;
        }
        text[at++] = '"';
    }
    text[at++] = '}';
    text[at] = '\0';
    return text;
}

store_status pg_store_rate_counts_exchange(pg_store *s, int64_t epoch, int64_t window, const rate_count *own,
                                           size_t own_count, rate_count **others, size_t *others_count)
{
    *others = NULL;
    *others_count = 0;
    char *key_ids = array_literal(own, own_count, true);
    char *counts = array_literal(own, own_count, false);
    pg_number window_text, epoch_text;
    const char *values[] = {pg_int(&window_text, window), pg_int(&epoch_text, epoch), key_ids, counts};
    PGresult *result = NULL;
    store_status status = key_ids && counts
                              ? pg_query(s, "exchange rate counts", &result, EXCHANGE_SQL, 4, values)
                              : STORE_ERROR;
    free(key_ids);
    free(counts);
    if (status != STORE_OK) return STORE_ERROR;
    int rows = PQntuples(result);
    rate_count *sums = rows > 0 ? calloc((size_t)rows, sizeof(*sums)) : NULL;
    if (rows > 0 && sums == NULL) {
        PQclear(result);
        return STORE_ERROR;
    }
    for (int row = 0; row < rows; row++) {
        pg_copy_text(sums[row].key_id, sizeof(sums[row].key_id), result, row, 0);
        sums[row].count = pg_get_int(result, row, 1);
    }
    PQclear(result);
    *others = sums;
    *others_count = (size_t)rows;
    return STORE_OK;
}
