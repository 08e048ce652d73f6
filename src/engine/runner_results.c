/* runner_results.c — a succeeded job's result (see runner_results.h): downloaded on the runner's
 * multi handle under the fetch guard, then handed to the finishing threads. */
#include "engine/runner_results.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob.h"
#include "engine/runner_channels.h"
#include "engine/runner_flights.h"
#include "util/clock.h"
#include "util/log.h"

/* Removes f's scratch folder, if it has one, and forgets it. */
static void scratch_remove(flight *f)
{
    if (f->scratch == NULL) return;
    blob_scratch_remove(f->scratch);
    free(f->scratch);
    f->scratch = NULL;
}

/* Ends a download on the multi handle; true when the file is complete at f->scratch/output.mp4. */
static bool download_end(upstream_runner *r, flight *f, CURLcode code, char *err, size_t err_size,
                         fetch_result *result)
{
    curl_multi_remove_handle(r->multi, fetch_transfer_easy(f->download));
    *result = fetch_transfer_end(f->download, code, NULL, err, err_size);
    f->download = NULL;
    atomic_fetch_sub(&r->downloads_active, 1);
    return *result == FETCH_OK;
}

void result_download_start(upstream_runner *r, flight *f, const upstream_provider *provider,
                           const upstream_context *ctx, const upstream_outcome *done)
{
    upstream_request request;
    memset(&request, 0, sizeof(request));
    upstream_job job;
    flight_job_get(f, &job);
    if (provider->build_download(ctx, &job, done, &request) != 0) {
        upstream_request_clear(&request);
        flight_fail(r, f, "upstream_error", "The provider reported success without a result to download.");
        return;
    }
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (request.carries_credential && (c == NULL || !upstream_same_origin(request.url, c->record.base_url))) {
        upstream_request_clear(&request);
        flight_fail(r, f, "upstream_error", "The provider's result link points away from the provider.");
        return;
    }
    store_status moved = store_task_transition(r->db, f->task_id, TASK_PROCESSING, TASK_FINALIZING, NULL,
                                               clock_unix_seconds());
    if (moved != STORE_OK) {
        task_record task;
        memset(&task, 0, sizeof(task));
        bool already = store_task_get(r->db, f->task_id, &task) == STORE_OK && task.state == TASK_FINALIZING;
        task_record_clear(&task);
        if (!already) {
            if (moved == STORE_ERROR) log_error("a task could not move to finalizing", "task=%s", f->task_id);
            upstream_request_clear(&request);
            flight_drop(r, f);
            return;
        }
    }
    /* the download is guarded like any user-given URL (the link came from the provider) and runs on
     * the multi handle with every other request */
    char scratch[PATH_MAX], path[PATH_MAX + 16], err[512] = "";
    const char *headers[UPSTREAM_MAX_HEADERS + 1];
    for (int i = 0; i < request.header_count; i++)
        headers[i] = request.headers[i];
    headers[request.header_count] = NULL;
    fetch_result started = FETCH_UNREACHABLE;
    if (blob_scratch_create(r->config.blobs, scratch, sizeof(scratch)) != 0) {
        snprintf(err, sizeof(err), "no scratch space");
    } else if ((f->scratch = strdup(scratch)) == NULL) {
        blob_scratch_remove(scratch);
        snprintf(err, sizeof(err), "out of memory");
    } else {
        snprintf(path, sizeof(path), "%s/output.mp4", f->scratch);
        f->download =
            fetch_transfer_begin(request.url, headers, path, &r->config.fetch, &started, err, sizeof(err));
    }
    upstream_request_clear(&request);
    if (f->download != NULL) {
        CURL *easy = fetch_transfer_easy(f->download);
        if (curl_easy_setopt(easy, CURLOPT_PRIVATE, f) != CURLE_OK ||
            curl_multi_add_handle(r->multi, easy) != CURLM_OK) {
            fetch_transfer_end(f->download, CURLE_FAILED_INIT, NULL, NULL, 0);
            f->download = NULL;
            snprintf(err, sizeof(err), "the transfer could not start");
        }
    }
    if (f->download == NULL) {
        scratch_remove(f);
        char message[700];
        snprintf(message, sizeof(message), "The result could not be downloaded from the provider (%s: %s).",
                 fetch_result_name(started), err);
        flight_fail(r, f, "upstream_error", message);
        return;
    }
    atomic_fetch_add(&r->downloads_active, 1);
    f->stated_duration = done->duration;
    f->downloading = true;
    runner_timer_cancel(r, f);
}

void result_download_done(upstream_runner *r, flight *f, CURLcode code)
{
    char err[512] = "";
    fetch_result result;
    bool downloaded = download_end(r, f, code, err, sizeof(err), &result);
    if (downloaded && result_finishing_push(r->finishing, f->task_id, f->scratch, f->stated_duration)) {
        free(f->scratch); /* the folder is the finishing thread's now */
        f->scratch = NULL;
        return; /* the flight waits for its finishing (result_flight_finished) */
    }
    scratch_remove(f);
    char message[700];
    if (downloaded)
        snprintf(message, sizeof(message), "The result could not be stored: out of memory.");
    else
        snprintf(message, sizeof(message), "The result could not be downloaded from the provider (%s: %s).",
                 fetch_result_name(result), err);
    flight_fail(r, f, "upstream_error", message);
}

void result_download_abort(upstream_runner *r, flight *f)
{
    if (f->download == NULL) return;
    fetch_result result;
    download_end(r, f, CURLE_ABORTED_BY_CALLBACK, NULL, 0, &result);
    scratch_remove(f);
}

void result_flight_finished(upstream_runner *r, flight *f, bool completed)
{
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && completed) routing_record_success(c);
    flight_drop(r, f);
}
