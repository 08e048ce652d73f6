/* store_pg_signals.c — signals between nodes on PostgreSQL (store.h): NOTIFY on one channel per
 * schema, "reelay.<schema>" (so that databases shared by several schemas, like the tests', never mix
 * their signals), carrying "<kind> <payload>". Sending is one pg_notify with both as parameters (no
 * quoting to get wrong); listening is LISTEN on the same channel, then waiting on the connection's
 * socket with poll() and reading what arrived with PQconsumeInput and PQnotifies. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_common.h"
#include "util/clock.h"
#include "util/log.h"

/* The channel's name, computed by the server; an identifier is at most 63 bytes. */
#define SIGNAL_CHANNEL_SQL "left('reelay.' || current_schema(), 63)"

store_status pg_store_signal_send(pg_store *s, const char *kind, const char *payload)
{
    if (!store_signal_is_valid(kind, payload)) {
        log_error("signal refused: kind or payload outside the limits", "kind_length=%zu",
                  kind ? strlen(kind) : 0);
        return STORE_ERROR;
    }
    const char *values[] = {kind, payload};
    return pg_query(s, "signal send", NULL, "SELECT pg_notify(" SIGNAL_CHANNEL_SQL ", $1 || ' ' || $2)", 2,
                    values);
}

store_status pg_store_signal_listen(pg_store *s)
{
    PGresult *result = NULL;
    if (pg_query(s, "signal channel", &result, "SELECT " SIGNAL_CHANNEL_SQL, 0, NULL) != STORE_OK)
        return STORE_ERROR;
    if (PQntuples(result) != 1 || PQgetisnull(result, 0, 0)) {
        PQclear(result);
        log_error("database error", "operation=\"signal channel\" error=\"no current schema\"");
        return STORE_ERROR;
    }
    char *channel = PQescapeIdentifier(s->conn, PQgetvalue(result, 0, 0), strlen(PQgetvalue(result, 0, 0)));
    PQclear(result);
    if (channel == NULL) {
        log_error("database error", "operation=\"signal listen\" error=\"%s\"", PQerrorMessage(s->conn));
        return STORE_ERROR;
    }
    char sql[160];
    int length = snprintf(sql, sizeof(sql), "LISTEN %s", channel);
    PQfreemem(channel);
    if (length < 0 || (size_t)length >= sizeof(sql)) return STORE_ERROR; /* 63 bytes quoted fit */
    return pg_query(s, "signal listen", NULL, sql, 0, NULL);
}

/* Takes the next well-formed notification that has arrived, if any: OK with kind and payload copied,
 * NOT_FOUND when none is left. Malformed ones (not sent by store_signal_send) are dropped. */
static store_status take_arrived(pg_store *s, char *kind, size_t kind_size, char *payload,
                                 size_t payload_size)
{
    PGnotify *notice;
    while ((notice = PQnotifies(s->conn)) != NULL) {
        const char *text = notice->extra ? notice->extra : "";
        size_t length = strlen(text), kind_length = strcspn(text, " ");
        bool fits =
            text[kind_length] == ' ' && kind_length < kind_size && length - kind_length - 1 < payload_size;
        if (fits) {
            memcpy(kind, text, kind_length);
            kind[kind_length] = '\0';
            memcpy(payload, text + kind_length + 1, length - kind_length);
        }
        PQfreemem(notice); /* text goes with it */
        if (fits && store_signal_is_valid(kind, payload)) return STORE_OK;
        log_warn("a malformed signal was dropped", "length=%zu", length);
    }
    return STORE_NOT_FOUND;
}

/* The connection is gone: say so once; the caller listens again (which reconnects). */
static store_status connection_lost(pg_store *s)
{
    log_error("the signal connection to PostgreSQL is lost", "error=\"%s\"", PQerrorMessage(s->conn));
    return STORE_ERROR;
}

store_status pg_store_signal_wait(pg_store *s, int timeout_ms, char *kind, size_t kind_size, char *payload,
                                  size_t payload_size)
{
    if (PQstatus(s->conn) != CONNECTION_OK) return connection_lost(s);
    int64_t until_ms = clock_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (PQconsumeInput(s->conn) == 0) return connection_lost(s);
        store_status status = take_arrived(s, kind, kind_size, payload, payload_size);
        if (status == STORE_OK) return STORE_OK;
        int64_t left_ms = until_ms - clock_monotonic_ms();
        if (left_ms <= 0) return STORE_NOT_FOUND;
        struct pollfd watched = {.fd = PQsocket(s->conn), .events = POLLIN};
        if (watched.fd < 0) return connection_lost(s);
        int ready = poll(&watched, 1, (int)left_ms);
        if (ready < 0 && errno != EINTR) return connection_lost(s);
        /* readable, hung up or in error: PQconsumeInput above tells which */
    }
}
