/* store.h — the one persistence interface. Everything reelay remembers goes through here.
 *
 * Two backends behind the same functions (store.c picks one per connection by the database URL), so
 * nothing here mentions SQL: SQLite (store_sqlite*.c, the default) keeps one database file,
 * <data>/reelay.db, in WAL mode with versioned migrations; PostgreSQL (store_pg*.c, libpq) keeps the
 * same schema in a database that several nodes share. A `store` is one connection: it is NOT
 * thread-safe — every thread (each HTTP event loop, each engine thread, the command line) opens its
 * own. Connections to the same database may be used concurrently from threads and processes; writers
 * wait for each other, they never fail because another writer is active.
 *
 * Every task transition is a compare-and-set on (id, state): it applies only if the task is still in
 * the expected state, so of two racing writers exactly one wins and the other gets STORE_CONFLICT.
 * A successful return means the change is committed (it survives kill -9 of the process).
 *
 * Return values: STORE_OK on success; STORE_NOT_FOUND when the row is absent; STORE_CONFLICT when a
 * compare-and-set lost or a unique name exists; STORE_ERROR for anything else (already logged). */
#ifndef REELAY_STORE_STORE_H
#define REELAY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/ids.h"

typedef struct store store;

typedef enum { STORE_OK = 0, STORE_NOT_FOUND = 1, STORE_CONFLICT = 2, STORE_ERROR = -1 } store_status;

/* Opens (creating if needed) <data_dir>/reelay.db and brings its schema up to date. data_dir must exist.
 * The same as store_open_url(NULL, data_dir, out). */
store_status store_open(const char *data_dir, store **out);
/* Opens a connection to the database named by database_url and brings its schema up to date (versioned
 * migrations, applied once even when many connections open a fresh database together; a schema newer
 * than this program is refused with STORE_ERROR):
 *   NULL, "" or "sqlite:"              SQLite, <data_dir>/reelay.db (data_dir must exist);
 *   "postgres://…", "postgresql://…"   PostgreSQL, a libpq connection URI (data_dir is not used;
 *                                      connect_timeout defaults to 10 s). A connection the server
 *                                      drops is reopened by the next call made outside a transaction.
 * Anything else is STORE_ERROR. The URL is never logged (it may hold a password). *out is NULL on
 * failure; close it with store_close. */
store_status store_open_url(const char *database_url, const char *data_dir, store **out);
void store_close(store *s);
/* True when threads may share this connection for writing, each holding the store's process-wide
 * writer lock for its transactions (SQLite: writers queue on that lock anyway, and one connection keeps
 * the page cache warm). False for PostgreSQL: give each thread its own connection (a libpq connection
 * is never used by two threads at once). */
bool store_connection_shareable(store *s);

/* SQLite: copies committed changes from the write-ahead log into the database file (and truncates the
 * log when it can). Connections never do this on their own: call it periodically from a background
 * thread (the engine does, every second). Never blocks writers for long; OK also when busy.
 * PostgreSQL: nothing to do (the server checkpoints by itself); OK. */
store_status store_checkpoint(store *s);

/* ---- API keys. The key itself is never stored: only its SHA-256. ---- */

#define STORE_KEY_HASH_SIZE 32

/* The SHA-256 by which a secret the operator hands out (an API key, the admin token) is stored and
 * looked up; the secret itself is never stored. Pure. */
void store_secret_hash(const char *secret, unsigned char out[STORE_KEY_HASH_SIZE]);

typedef struct key_record {
    char id[32]; /* public id, "key_…", safe to log */
    char name[64];
    char user_group[32]; /* pricing group, "default" */
    int64_t created_at;  /* Unix seconds */
    int64_t revoked_at;  /* 0 = active */
    int rpm_limit;       /* requests per minute; 0 = unlimited */
    int max_concurrent;  /* unfinished tasks at once; 0 = unlimited */
} key_record;

#define STORE_SEALED_SECRET_SIZE 768 /* holds SECRET_BOX_SEALED_SIZE of util/secret_box.h */

/* CONFLICT when the id or the hash exists. webhook_secret_sealed: the key's callback signing secret
 * sealed with util/secret_box.h (may be NULL or "" for none). */
store_status store_key_insert(store *s, const key_record *key, const unsigned char hash[STORE_KEY_HASH_SIZE],
                              const char *webhook_secret_sealed);
/* Changes a key's group (NULL = keep), rpm limit and concurrency limit (-1 = keep). NOT_FOUND for an
 * unknown id. */
store_status store_key_update_limits(store *s, const char *id, const char *user_group, int rpm_limit,
                                     int max_concurrent);
/* The key's sealed callback signing secret into out ("" when it has none). NOT_FOUND for an unknown id. */
store_status store_key_webhook_secret(store *s, const char *id, char *out, size_t out_size);
/* Looks up an active (not revoked) key by hash. NOT_FOUND for an unknown or revoked key. The caller
 * compares hashes in constant time itself if it keeps copies; the lookup is by index. */
store_status store_key_find_by_hash(store *s, const unsigned char hash[STORE_KEY_HASH_SIZE], key_record *out);
/* All keys, oldest first; *out is malloc'd (free with free()). */
store_status store_key_list(store *s, key_record **out, size_t *count);
/* NOT_FOUND for an unknown id; revoking a revoked key is OK. */
store_status store_key_revoke(store *s, const char *id, int64_t now);

/* ---- Channels: where tasks run. ---- */

typedef struct channel_record {
    char name[64];
    char provider[16];  /* "sandbox", "fal", "sync", "kling", "openai", "creatify" */
    char base_url[256]; /* "" = the provider's default */
    char models[512];   /* "all" or comma-separated model ids */
    int priority;       /* higher is tried first */
    int weight;         /* share among channels of equal priority */
    int max_concurrent; /* tasks in flight at once on this channel; 0 = unlimited */
    bool enabled;
    int64_t created_at;
    char credential_sealed[STORE_SEALED_SECRET_SIZE]; /* the credential sealed by util/secret_box.h, or "" */
    char webhook_secret_sealed[STORE_SEALED_SECRET_SIZE]; /* the provider's webhook signing secret, sealed the
                                                             same way, or "" */
} channel_record;

/* True when the channel's model list is "all" or names `model` (pure; no database access). */
bool channel_serves_model(const channel_record *channel, const char *model);

/* CONFLICT when a channel with that name exists. */
store_status store_channel_insert(store *s, const channel_record *channel);
/* Replaces every field of the channel with that name (not created_at). NOT_FOUND for an unknown name. */
store_status store_channel_update(store *s, const channel_record *channel);
/* NOT_FOUND for an unknown name. */
store_status store_channel_remove(store *s, const char *name);
/* All channels ordered by priority (highest first) then name; *out is malloc'd (free with free()). */
store_status store_channel_list(store *s, channel_record **out, size_t *count);

/* ---- Tasks. ---- */

typedef enum {
    TASK_PENDING = 0,
    TASK_SUBMITTING,
    TASK_PROCESSING,
    TASK_FINALIZING,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_CANCELLED,
    TASK_STATE_COUNT
} task_state;

const char *task_state_name(task_state state);            /* "pending", …, "cancelled" */
bool task_state_parse(const char *name, task_state *out); /* false for an unknown name */
bool task_state_is_terminal(task_state state);            /* completed, failed, cancelled */

typedef struct task_record {
    char id[IDS_TASK_ID_SIZE];
    char key_id[32];
    char model[48];
    task_state state;
    int progress;         /* 0..100, never decreases; 100 only when completed */
    int64_t created_at;   /* Unix seconds (the `created` of the API) */
    int64_t updated_at;   /* Unix seconds of the last change */
    int64_t deadline_at;  /* Unix seconds; an unfinished task past it fails with code "timeout" */
    int64_t completed_at; /* Unix seconds when it reached a terminal state, else 0 */
    char channel[64];     /* channel name once routed, else "" */
    char user_group[32];
    int64_t credits_reserved; /* whole credits held for this task since it was admitted */
    char *params_json;        /* canonical validated parameters (catalog_validate's output); owned */
    char *results_json;       /* JSON array of stored results once completed, else NULL; owned */
    char error_code[48];      /* "" unless failed or cancelled */
    char *error_message;      /* NULL unless failed or cancelled; owned */
    char *upstream_json; /* the engine's record of the job at the provider (opaque here), or NULL; owned */
    char *billing_json;  /* how the task is charged, fixed at admission (catalog/prices.h), or NULL; owned */
    char remixed_from[IDS_TASK_ID_SIZE]; /* the task this one remixes (POST /v1/videos/{id}/remix), else "" */
} task_record;

/* Frees the owned strings of one record (not the record itself) and NULLs them. */
void task_record_clear(task_record *task);
/* Clears `count` records and frees the array. */
void task_records_free(task_record *tasks, size_t count);

/* Inserts a new task exactly as given (normally state pending, progress 0). CONFLICT on a duplicate id. */
store_status store_task_insert(store *s, const task_record *task);
/* Inserts `count` new tasks in one transaction (all or none): many submissions, one commit. */
store_status store_task_insert_batch(store *s, const task_record *tasks, size_t count);
/* Fills *out (caller clears it with task_record_clear). */
store_status store_task_get(store *s, const char *id, task_record *out);

typedef struct task_list_query {
    const char *key_id;   /* required: only this key's tasks */
    const char *after_id; /* cursor: tasks older than this one (NULL = from the newest); NOT_FOUND if
                             it is not one of this key's tasks */
    int limit;            /* 1..100 */
    int state;            /* a task_state, or -1 for any */
    const char *model;    /* NULL for any */
    bool oldest_first;    /* false: newest first, after_id lists older ones; true: oldest first, after_id
                             lists newer ones (OpenAI's order=asc) */
} task_list_query;

/* Newest first (created_at, then insertion order, descending). *out is malloc'd: free with task_records_free.
 */
store_status store_task_list(store *s, const task_list_query *query, task_record **out, size_t *count,
                             bool *has_more);

/* Compare-and-set of the state alone (also touches updated_at). from → to must not go to completed
 * (use store_task_complete) nor failed/cancelled (use store_task_fail / store_task_cancel).
 * Also records `channel` when not NULL. CONFLICT when the task is not in `from`. */
store_status store_task_transition(store *s, const char *id, task_state from, task_state to,
                                   const char *channel, int64_t now);
/* The same compare-and-set, also replacing the task's upstream record when upstream_json is not NULL.
 * Here from may equal to: the record (and channel) change while the state stays. */
store_status store_task_set_upstream(store *s, const char *id, task_state from, task_state to,
                                     const char *channel, const char *upstream_json, int64_t now);
/* store_task_set_upstream from → submitting on `channel`, taking one of the channel's `cap` slots (cap ≤ 0:
 * no limit): it applies only while fewer than cap other tasks occupy the channel (submitting or
 * processing on it), counted and written in one transaction that holds the channel (a lock per
 * channel on PostgreSQL), so that every node together never exceeds the cap. CONFLICT with *full set when the
 * channel is full (nothing changed); CONFLICT with *full false when the compare-and-set lost. Fenced like
 * every engine write. */
store_status store_task_take_channel_slot(store *s, const char *id, task_state from, const char *channel,
                                          int cap, const char *upstream_json, int64_t now, bool *full);
/* Raises progress to max(current, progress), capped at 99, while the task is unfinished. OK also when
 * nothing changed; CONFLICT when the task is already finished. */
store_status store_task_set_progress(store *s, const char *id, int progress, int64_t now);
/* from → completed with progress 100, results_json (must be a non-empty JSON array) and completed_at.
 * In the same transaction the task's reservation is settled: credits_charged (clamped to 0 … the
 * reservation; -1 = the whole reservation) is charged and the rest returned to the key; and the task's
 * callback, if it has a callback_url, is queued (see store_callback_*). */
store_status store_task_complete(store *s, const char *id, task_state from, const char *results_json,
                                 int64_t credits_charged, int64_t now);
/* Replaces the results_json (a non-empty JSON array) of a completed task and touches updated_at: the
 * previews made after completion (engine/result_previews.h) added. NOT_FOUND when the task is gone (deleted
 * meanwhile), CONFLICT when it is not completed. Not fenced: a completed task is no node's any more. */
store_status store_task_set_results(store *s, const char *id, const char *results_json, int64_t now);
/* Any unfinished state → failed with code and message. CONFLICT when already finished. The reservation
 * is refunded in full and the callback queued, in the same transaction. */
store_status store_task_fail(store *s, const char *id, const char *code, const char *message, int64_t now);
/* Any unfinished state → cancelled (error code "cancelled"), only for the owner key_id (another key's task
 * is NOT_FOUND). CONFLICT when already finished. Refund and callback as for store_task_fail. */
store_status store_task_cancel(store *s, const char *id, const char *key_id, int64_t now);
/* Deletes a finished task (completed, failed or cancelled) of key_id for good (DELETE /v1/videos/{id}), in
 * one transaction: its row, its idempotency keys (a retry with one of them admits a new task) and its
 * callback (delivered or not). Its credit ledger rows stay: the ledger is the audit trail, and the key's
 * balances do not move (a finished task holds no reservation). NOT_FOUND when there is no such task or it
 * is another key's (that task is left alone); CONFLICT when it is not finished yet (nothing changed: cancel
 * it first). On OK, *deleted_out (may be NULL; clear it with task_record_clear) receives the record as it
 * was, so that the caller removes the task's stored result objects (the store knows nothing of them).
 * Never fenced (a user's action, through any node), and not told to store_observe_tasks' observer (there
 * is nothing left to re-read). */
store_status store_task_delete(store *s, const char *task_id, const char *key_id, task_record *deleted_out);

/* Watching a connection's task writes (the live event streams, api/task_events.c): once set, observer
 * is called on the calling thread, after the call returned OK, with the task's id, for every write of a
 * task made through this connection — insert, admission (each created task), transition, upstream
 * record, progress (also when nothing changed), channel slot taken, completion, results replaced, failure,
 * cancel. It is told only that the task may have changed (it re-reads); it must be quick and must not use
 * this connection. NULL stops it. Not for store_task_insert_batch (copies between stores). */
typedef void (*store_task_observer_fn)(void *context, const char *task_id);
void store_observe_tasks(store *s, store_task_observer_fn observer, void *context);

/* All unfinished tasks (pending … finalizing), oldest first. *out: free with task_records_free. */
store_status store_task_list_unfinished(store *s, task_record **out, size_t *count);
/* Number of tasks in each state. */
store_status store_task_count_by_state(store *s, int64_t counts[TASK_STATE_COUNT]);

/* ---- What operators see of the tasks (store_sqlite_admin.c, store_pg_admin.c: the admin API). ---- */

typedef struct task_model_counts {
    char model[48];
    int64_t by_state[TASK_STATE_COUNT];
} task_model_counts;

typedef struct task_summary {
    int64_t by_state[TASK_STATE_COUNT];
    task_model_counts *models; /* one per model that has tasks, by name; malloc'd (free()) */
    size_t model_count;
    int64_t finished_last_minute; /* tasks whose completed_at is within 60 s of now (any terminal state) */
    int64_t finished_last_hour;   /* … within 3600 s */
} task_summary;

/* Every task counted by state, by model and state, and those finished in the last minute and hour
 * before `now` (Unix seconds), in one query. out->models is malloc'd (NULL when there are no tasks). */
store_status store_task_summary(store *s, int64_t now, task_summary *out);

typedef struct channel_activity {
    char channel[64];
    int64_t in_flight;      /* tasks submitting or processing on it now */
    int64_t completed;      /* tasks that completed on it since `since` */
    int64_t failed;         /* … that failed on it since `since` (cancelled ones are not counted) */
    int64_t median_seconds; /* the median of completed_at - created_at of those completed; -1 when none */
} channel_activity;

/* Per channel named by any task in flight or finished since `since` (Unix seconds): what it has in
 * flight and how its recent tasks ended, ordered by channel name. *out is malloc'd (free(); NULL when
 * *count is 0). A channel nobody routed a task to lately is not listed. */
store_status store_channel_activity(store *s, int64_t since, channel_activity **out, size_t *count);

/* ---- Nodes and their leases on tasks (store_sqlite_leases.c, store_pg_leases.c): several nodes share
 * the work of one database.
 *
 * A node (one `reelay serve` process) registers when it starts and gets an epoch: a number the database
 * never gives out twice. Every unfinished task is owned by at most one node: the one whose epoch the task
 * carries (its lease epoch; 0 = nobody's, free to claim). The node's lease on all its tasks lasts until
 * the node's lease_until, which the node renews (one row, whatever the number of tasks). Once it has
 * passed, any node may take the dead node's tasks over (store_tasks_claim): they then carry the
 * claimer's epoch, and the dead node is marked taken over, so it can never renew again: a node that was
 * only paused and wakes up finds its lease lost and must stop (the engine ends the process).
 *
 * Fencing: a connection acting for a node is given its epoch (store_set_lease_epoch). Then every engine
 * write on a task — store_task_transition, _set_upstream, _set_progress, _complete, _fail — applies only
 * while the task still carries that epoch (else CONFLICT, exactly as a lost compare-and-set), and every
 * task it admits or inserts carries it. store_task_cancel is never fenced (a user may cancel through any
 * node). A connection without an epoch (0, the default: the command line, tests) is not fenced.
 *
 * Lease times are the database's clock on PostgreSQL (nodes' clocks may differ) and this machine's on
 * SQLite. ---- */

/* Every write on this connection is made for the node of `epoch` from now on (0 = for none: unfenced). */
void store_set_lease_epoch(store *s, int64_t epoch);

/* Registers a node named `name` (for people: host and pid) holding a lease of lease_ms, and sets its
 * epoch on this connection. On SQLite, where one process serves a database, every other node is marked
 * taken over at once, so a restarted server claims its predecessor's tasks without waiting. */
store_status store_node_register(store *s, const char *name, int64_t lease_ms, int64_t *epoch);
/* Extends the node's lease to now + lease_ms. CONFLICT when the lease is lost (the node was taken over
 * or its row is gone): the node must stop working on its tasks at once. */
store_status store_node_renew(store *s, int64_t epoch, int64_t lease_ms);
/* A node stopping cleanly: its unfinished tasks are handed back (lease epoch 0, claimable at once) and
 * its row removed. */
store_status store_node_leave(store *s, int64_t epoch);
/* Claims up to `limit` unfinished tasks that no live node owns — handed back (epoch 0) or carrying the
 * epoch of a node whose lease has passed (such nodes are marked taken over first) — oldest first, for
 * the node of `epoch`: they carry that epoch on return. Concurrent claimers never take the same task
 * (PostgreSQL: FOR UPDATE SKIP LOCKED; they skip each other's rows instead of waiting). *out: the claimed
 * tasks (free with task_records_free; NULL when *count is 0). */
store_status store_tasks_claim(store *s, int64_t epoch, size_t limit, task_record **out, size_t *count);
/* The lease epoch a task carries now (0 = nobody's). NOT_FOUND for an unknown id. */
store_status store_task_lease(store *s, const char *id, int64_t *epoch);

typedef struct node_record {
    int64_t epoch;
    char name[128];
    int64_t started_at;     /* Unix seconds */
    int64_t lease_until_ms; /* Unix milliseconds */
    bool taken_over;
    int64_t tasks; /* unfinished tasks carrying its epoch */
} node_record;
/* Every node row, newest first (operators: who is serving, whose lease passed). *out malloc'd (free()). */
store_status store_node_list(store *s, node_record **out, size_t *count);

/* ---- Facts every node must agree on (the cluster_facts table): for example a fingerprint of the
 * secrets nodes share. ---- */

/* Records value under name unless a value is there already; either way `stored` receives the value the
 * database holds (stored_size bytes at most, truncated). OK, or ERROR. */
store_status store_fact_claim(store *s, const char *name, const char *value, char *stored,
                              size_t stored_size);
/* The value recorded under name into value (value_size bytes at most, truncated). NOT_FOUND when none
 * is; ERROR otherwise. */
store_status store_fact_get(store *s, const char *name, char *value, size_t value_size);
/* Records value under name, replacing whatever was there (the admin token's hash when it is rotated).
 * OK, or ERROR. */
store_status store_fact_set(store *s, const char *name, const char *value);

/* ---- Credits (store_sqlite_credits.c, store_pg_credits.c). Whole credits; every change appends to an
 * append-only ledger in the transaction that moves the key's balances, so that for every key, at every
 * commit: available = grants − reservations + refunds + (settle releases − settle charges) reserved  =
 * reservations of its unfinished tasks and every finished task's reservation has exactly one settle or
 * refund. The key's count of unfinished tasks moves with the same rows (+1 on a reservation, −1 on its
 * release). ---- */

typedef struct credit_balance {
    int64_t available; /* may be spent by new tasks */
    int64_t reserved;  /* held by unfinished tasks */
    char user_group[32];
    int64_t unfinished_tasks; /* tasks admitted and not yet finished (what --max-concurrent counts) */
} credit_balance;

typedef enum { LEDGER_GRANT, LEDGER_RESERVE, LEDGER_SETTLE, LEDGER_REFUND } ledger_kind;
const char *ledger_kind_name(ledger_kind kind); /* "grant", "reserve", "settle", "refund" */

typedef struct ledger_entry {
    int64_t seq;
    ledger_kind kind;
    char task_id[IDS_TASK_ID_SIZE]; /* "" for a grant */
    int64_t amount;                 /* grant: added (negative = taken back); reserve: held; settle: charged;
                                       refund: returned */
    int64_t released;               /* settle: the reservation it released */
    char note[128];
    int64_t created_at;
} ledger_entry;

/* Adds amount (may be negative, but the balance may not go below 0: CONFLICT) to the key's available
 * credits. NOT_FOUND for an unknown key. */
store_status store_credits_grant(store *s, const char *key_id, int64_t amount, const char *note, int64_t now);
store_status store_credits_balance(store *s, const char *key_id, credit_balance *out);
/* The key's ledger, oldest first, at most `limit` newest entries (0 = all); *out malloc'd (free()). */
store_status store_credits_ledger(store *s, const char *key_id, size_t limit, ledger_entry **out,
                                  size_t *count);

typedef struct credit_audit {
    int64_t keys_checked, tasks_checked;
    int64_t tasks_before_ledger; /* made before the ledger existed (an upgraded database): not checked */
    int64_t problems;            /* 0 when every invariant above holds */
    char first_problem[256];
} credit_audit;
/* Checks the invariants above over every key and task (read-only). */
store_status store_credits_audit(store *s, credit_audit *out);

/* One UTC day of a key's charges (GET /v1/usage/daily). */
typedef struct usage_day {
    int64_t day;     /* the day's first second: Unix seconds, a multiple of 86400 */
    int64_t credits; /* the sum of the key's settle charges (ledger kind settle, its amount) made that day */
    int64_t tasks;   /* how many settle entries that day (finished, charged tasks; 0 credits included) */
} usage_day;
/* The key's settle entries made in [since_unix, until_unix) (their created_at), summed per UTC day in one
 * grouped query, oldest day first; only days with at least one entry are listed (the caller fills the
 * gaps). Refunds and grants are not usage. An unknown key has no entries (OK, *count 0). *out is malloc'd
 * (free(); NULL when *count is 0). */
store_status store_usage_daily(store *s, const char *key_id, int64_t since_unix, int64_t until_unix,
                               usage_day **out, size_t *count);

/* ---- Admission: a new task, its reservation, its idempotency key and the key's limits, committed
 * together or not at all. ---- */

typedef enum {
    ADMIT_CREATED = 0,          /* the task is stored and its credits reserved */
    ADMIT_DUPLICATE,            /* the idempotency key was used before with the same request: existing_id */
    ADMIT_IDEMPOTENCY_MISMATCH, /* … with a different request */
    ADMIT_INSUFFICIENT_CREDITS, /* available < reserve: nothing stored */
    ADMIT_TOO_MANY_TASKS,       /* the key already has max_concurrent unfinished tasks: nothing stored */
    ADMIT_ID_TAKEN,             /* another task has this id (ids_task_new's rare collision): nothing stored;
                                   admit it again under a new id */
} admit_outcome;

#define STORE_IDEMPOTENCY_KEY_MAX 255
#define STORE_IDEMPOTENCY_TTL_SECONDS 86400

typedef struct task_admission {
    const task_record *task;        /* credits_reserved is the reservation */
    const char *idempotency_key;    /* NULL or "" = none */
    unsigned char request_hash[32]; /* what "the same request" means for the idempotency key */
    int max_concurrent;             /* the key's limit, 0 = none */
    /* out */
    admit_outcome outcome;
    char existing_id[IDS_TASK_ID_SIZE]; /* ADMIT_DUPLICATE */
    int64_t available;                  /* the key's available credits after (or, refused, at) admission */
} task_admission;

/* Admits each item in order in one transaction (one commit for the lot); each item's outcome is set.
 * STORE_OK when the transaction committed (whatever the outcomes); otherwise nothing was stored. With
 * wait false it does not queue behind another writer of this process: STORE_CONFLICT, nothing done.
 * (PostgreSQL has no writer of the process to queue behind: there wait is ignored, and an admission
 * waits only for other admissions of the same keys.) */
store_status store_task_admit(store *s, task_admission *items, size_t count, bool wait);
/* Looks an idempotency key up (younger than the TTL): OK with the task id and whether the request hash
 * matches, NOT_FOUND otherwise. A read-only fast path; store_task_admit decides. */
store_status store_idempotency_find(store *s, const char *key_id, const char *idempotency_key,
                                    const unsigned char request_hash[32], int64_t now,
                                    char task_id[IDS_TASK_ID_SIZE], bool *same_request);
/* Forgets idempotency keys older than the TTL. */
store_status store_idempotency_expire(store *s, int64_t now);

/* ---- Callbacks (store_sqlite_callbacks.c, store_pg_callbacks.c): an outbox of deliveries, one per finished
 * task that asked for one, queued in the transaction that finished the task. ---- */

typedef struct callback_record {
    char task_id[IDS_TASK_ID_SIZE];
    char key_id[32];
    char url[2049];
    int attempts;
    int64_t next_at_ms; /* Unix milliseconds */
} callback_record;

typedef enum { CALLBACK_DUE = 0, CALLBACK_DELIVERED = 1, CALLBACK_GIVEN_UP = 2 } callback_state;
const char *callback_state_name(callback_state state); /* "due", "delivered", "given_up" */

/* Claims up to `limit` due callbacks (state due, next_at_ms <= now_ms), earliest next_at first, in one
 * transaction: each one's attempts is counted up — the record returned shows the number of the attempt
 * about to be made — and its next_at moved to lease_until_ms. A claimed callback is not due again
 * before its lease ends, so no second sender takes it meanwhile, and a sender that dies mid-attempt
 * leaves it due again then (the outbox survives restarts; the cut-short attempt still counts).
 * *out is malloc'd (free(); NULL when *count is 0). */
store_status store_callbacks_claim_due(store *s, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                                       callback_record **out, size_t *count);
/* Records how claimed attempt number `attempt` ended: state CALLBACK_DELIVERED, CALLBACK_GIVEN_UP, or
 * CALLBACK_DUE again at next_at_ms (a retry). http_status (0 = no answer) and error ("" or NULL = none;
 * never a secret) are kept as the last outcome. Only a due callback whose latest claim is that attempt
 * changes: CONFLICT when it is already delivered or given up, or a later attempt was claimed since (a
 * late outcome never overwrites a newer attempt's); NOT_FOUND for an unknown task id. */
store_status store_callback_finish_attempt(store *s, const char *task_id, int attempt, callback_state state,
                                           int http_status, const char *error, int64_t next_at_ms,
                                           int64_t now_ms);
/* The earliest next_at_ms of any due callback (claimed ones included, at their lease's end): the time
 * a sender may sleep until. NOT_FOUND when nothing is due. */
store_status store_callbacks_next_due(store *s, int64_t *next_at_ms);

typedef struct callback_delivery {
    callback_record record;
    callback_state state;
    int last_status;      /* HTTP status of the last attempt, 0 = none or no answer */
    char last_error[256]; /* "" = none */
    int64_t updated_at;   /* Unix seconds of the row's last change (queued, claimed, attempt recorded) */
} callback_delivery;
/* One task's callback and how its delivery stands (operators, the console's GET
 * /v1/tasks/{id}/callback, tests). NOT_FOUND when it has none: the task asked for no callback, or has not
 * finished yet (the row is queued by the transaction that finishes it). */
store_status store_callback_get(store *s, const char *task_id, callback_delivery *out);

/* ---- Uploads (store_sqlite_uploads.c, store_pg_uploads.c): files a key uploaded (POST /v1/files/upload/…),
 * one row per file; the file itself is the blob object `object_name`. A row exists only while its object may
 * be served: callers store the object first and insert the row after, and delete rows first and objects after
 * (an object without a row is harmless garbage; a row without an object would be a broken promise).
 *
 * Quota: a key's usage is the sum of `size` over its unexpired rows. store_upload_insert checks the
 * quota, evicts and inserts in one write transaction, so racing uploads of one key can never together
 * exceed it. ---- */
#define STORE_UPLOAD_ID_SIZE 40 /* "file-" + 10+ digits + "-" + 12 + NUL fits */

typedef struct upload_record {
    char id[STORE_UPLOAD_ID_SIZE]; /* "file-<unix>-<12 of [a-z0-9]>" */
    char key_id[32];
    char filename[256];     /* sanitised to [A-Za-z0-9._-] */
    char object_name[320];  /* "uploads/<id>/<filename>" */
    int64_t size;           /* bytes */
    char content_type[128]; /* "" when unknown */
    bool auto_cleanup;      /* may be evicted to make room for a newer upload of the same key */
    int64_t created_at;     /* Unix seconds */
    int64_t expires_at;     /* Unix seconds; the sweep deletes it then */
} upload_record;

/* Inserts the upload if the key's usage (unexpired rows at `now`) plus upload->size fits in
 * quota_bytes. When it does not fit and upload->auto_cleanup is true, the key's oldest auto_cleanup
 * uploads are deleted, oldest first, until it fits — but only if deleting them all would make it fit
 * (otherwise nothing is deleted). All in one transaction.
 * OK: inserted; *evicted (malloc'd, free(); NULL when *evicted_count is 0) lists the rows deleted to
 * make room — the caller removes their objects. CONFLICT: it does not fit (nothing changed; also a
 * duplicate id). With evicted or evicted_count NULL nothing is ever evicted (CONFLICT when it does not
 * fit), since the objects of evicted rows are the caller's to remove. */
store_status store_upload_insert(store *s, const upload_record *upload, int64_t quota_bytes, int64_t now,
                                 upload_record **evicted, size_t *evicted_count);
/* One upload by id. NOT_FOUND when absent (also after eviction or expiry). */
store_status store_upload_get(store *s, const char *id, upload_record *out);
/* The key's usage at `now`: bytes and number of unexpired uploads. */
store_status store_upload_usage(store *s, const char *key_id, int64_t now, int64_t *bytes, int64_t *count);
/* Deletes up to `limit` uploads whose expires_at <= now (earliest first) and returns them in *out
 * (malloc'd, free(); NULL when *count is 0) so that the caller removes their objects. */
store_status store_uploads_take_expired(store *s, int64_t now, size_t limit, upload_record **out,
                                        size_t *count);

/* ---- Moving an installation to another database (store_copy*.c; `reelay migrate-store`). ---- */

typedef struct store_copy_report {
    int64_t keys, channels, tasks, unfinished_tasks, ledger_entries, idempotency_keys, callbacks, uploads,
        facts;
    char problem[256]; /* why the copy was refused or failed ("" when it was done) */
} store_copy_report;

/* Copies everything `from` holds into `to`, which must be empty (no keys, channels, tasks, ledger
 * entries, idempotency keys, callbacks or uploads; else CONFLICT and nothing is copied): keys with their
 * hashes, limits, balances and revocation; channels with their sealed secrets as they are (they open
 * only with the data folder's credentials.key); every task with all its fields, in their order, owned by
 * no node (lease epoch 0: the first node to claim work takes the unfinished ones); the credit ledger;
 * idempotency keys; the callback outbox with each delivery's state; uploads; cluster facts (a fact `to`
 * already holds is kept). Nodes are not copied. `from` is read in one snapshot and `to` written in one
 * transaction: all or nothing. The two must be different databases. OK with the row counts in *out;
 * otherwise out->problem says why (ERROR is also logged). */
store_status store_copy_into(store *from, store *to, store_copy_report *out);

/* ---- Signals between nodes (store_pg_signals.c): short messages one connection sends and every
 * connection listening on the same database (and schema) receives, so that nodes tell each other at
 * once what changed (a key revoked, a task to poll now). PostgreSQL carries them with NOTIFY on one
 * channel per schema; delivery is at most once and only to connections listening at the time (a
 * listener that lost its connection may have missed any number: it re-reads what it caches). SQLite
 * has one node per database: sending does nothing, listening is not supported.
 *
 * A signal is a kind (1 to STORE_SIGNAL_KIND_MAX bytes of [a-z0-9_]) and a payload (0 to
 * STORE_SIGNAL_PAYLOAD_MAX bytes of printable ASCII, 0x20-0x7e: quotes and backslashes travel as they
 * are; control characters and other bytes are refused). ---- */

#define STORE_SIGNAL_KIND_MAX 31
#define STORE_SIGNAL_PAYLOAD_MAX 1000

/* True when this connection's backend carries signals between connections (PostgreSQL). */
bool store_signals_supported(store *s);
/* Sends a signal to every connection listening now (PostgreSQL: delivered when the send commits: at
 * once outside a transaction). OK (also on SQLite, where nobody else listens); ERROR, logged, for a kind
 * or payload outside the limits above (nothing sent) or a database error. */
store_status store_signal_send(store *s, const char *kind, const char *payload);
/* Makes this connection a listener (again, after a lost connection: the call reconnects first). Give
 * a listening connection to one thread that does nothing but store_signal_wait on it. OK; ERROR
 * (logged) when the connection cannot be (re)made or on SQLite. */
store_status store_signal_listen(store *s);
/* Waits up to timeout_ms (0 = only what has arrived) for the next signal on a listening connection and
 * copies its kind and payload (NUL-terminated; kind_size >= STORE_SIGNAL_KIND_MAX + 1 and payload_size
 * >= STORE_SIGNAL_PAYLOAD_MAX + 1 hold any signal). Signals that break the limits above (sent by
 * something else than store_signal_send) are dropped, logged. OK: one signal; NOT_FOUND: none came in
 * time; ERROR (logged): the connection is lost (signals may have been missed: call
 * store_signal_listen, then re-read whatever depends on them), or on SQLite. */
store_status store_signal_wait(store *s, int timeout_ms, char *kind, size_t kind_size, char *payload,
                               size_t payload_size);

/* ---- Request counts per key across nodes (store_sqlite_rates.c, store_pg_rates.c): what each node
 * accepted of each rate-limited key in each one-minute window (api/rate_limit.h), so that every node
 * limits a key by the whole cluster's count. One row per (window, key, node epoch); only the current
 * and the previous window are kept. ---- */

typedef struct rate_count {
    char key_id[32];
    int64_t count; /* requests accepted in the window */
} rate_count;

/* One exchange for the node of `epoch` in window `window` (a minute number: Unix ms / 60000), in one
 * statement or transaction:
 *   - records own[0 … own_count-1]: each the node's whole count for that key in that window so far (an
 *     upsert keeping the larger of the stored and the given count, so a repeat or a late duplicate is
 *     harmless; entries with an empty key id or a negative count are skipped);
 *   - forgets every node's counts of windows before window − 1 (rows another connection is deleting
 *     at the same moment are left to it: concurrent exchanges never wait for each other);
 *   - returns in *others the sum of the OTHER nodes' counts (every epoch but `epoch`, nodes that died
 *     included: what they accepted still counts) of `window`, one entry per key with a sum > 0, in no
 *     particular order. *others is malloc'd (free(); NULL when *others_count is 0).
 * OK, or ERROR (nothing recorded; *others NULL and *others_count 0). The same on both backends; on
 * SQLite, where one node serves a database, the sums only ever hold what earlier epochs recorded. */
store_status store_rate_counts_exchange(store *s, int64_t epoch, int64_t window, const rate_count *own,
                                        size_t own_count, rate_count **others, size_t *others_count);

#endif
