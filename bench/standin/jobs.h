/* The job table of the fal stand-in (bench/standin/): every submitted request, found by its request id.
 *
 * A job holds only what its later answers need: when it was submitted, which of the known applications
 * it belongs to (an index into the caller's table, so nothing from the request path is echoed back), its
 * webhook URL if any and whether it was cancelled. Its phase (queued, running, done) is worked out from
 * its age at each question, so no job has a thread of its own; a job with a webhook is also an entry of the
 * caller's one h2o timeout list (every job waits the same time, so submit order is deadline order). Open
 * hashing with chaining; the bucket array doubles when the table is more than three-quarters full. One thread
 * only. */
#ifndef STANDIN_JOBS_H
#define STANDIN_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <h2o/timeout.h>

enum { STANDIN_REQUEST_ID_LENGTH = 36 }; /* a UUID in text: 8-4-4-4-12 hex digits */

typedef struct standin_job {
    char request_id[STANDIN_REQUEST_ID_LENGTH + 1];
    unsigned app_index;    /* into the caller's table of known applications */
    uint64_t submitted_ms; /* on the caller's clock */
    bool cancelled;
    uint64_t webhook_sent_ms;        /* its webhook went out on its connection (Unix ms), 0 = not sent */
    uint64_t completed_answered_ms;  /* an answer first said COMPLETED (Unix ms), 0 = never */
    char *webhook_url;               /* owned, NULL when the submit named none */
    h2o_timeout_entry_t webhook_due; /* zeroed here; the caller links it and must unlink it before dispose */
    struct standin_job *next_in_bucket;
} standin_job;

typedef struct standin_job_table {
    standin_job **buckets;
    size_t bucket_count; /* a power of two */
    size_t job_count;
    uint64_t id_prefix; /* random per process, so ids do not repeat across restarts */
    uint64_t next_serial;
} standin_job_table;

/* Prepares an empty table. Returns false when memory runs out or the random id prefix cannot be drawn. */
bool standin_jobs_init(standin_job_table *table);

/* Frees every job and the buckets (no job's webhook_due may still be linked). */
void standin_jobs_dispose(standin_job_table *table);

/* Creates a job with a fresh request id, owned by the table. webhook_url (may be NULL) is copied.
 * Returns the job, or NULL when memory runs out (the table is unchanged then). */
standin_job *standin_jobs_add(standin_job_table *table, unsigned app_index, uint64_t submitted_ms,
                              const char *webhook_url);

/* The job whose request id is the length bytes at id (any bytes), or NULL. */
standin_job *standin_jobs_find(const standin_job_table *table, const char *id, size_t length);

/* Writes one line per job to out, in no particular order: "request_id submitted_ms webhook_sent_ms
 * completed_answered_ms" (Unix milliseconds, 0 = never). Returns false when a write fails. */
bool standin_jobs_report(const standin_job_table *table, FILE *out);

#endif
