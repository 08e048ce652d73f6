/* runner_results.h — a succeeded job's result, as the upstream runner brings it in (internal to the
 * engine): the provider's download request is built, checked (a link carrying the credential must
 * stay on the channel's origin), the task moves to finalizing, and the file is downloaded on the
 * runner's multi handle — guarded like any user-given URL (net/fetch.h), since the link came from the
 * provider — into a scratch folder; the finishing threads (engine/result_finishing.h) then store it
 * and complete the task. A result that cannot be brought in fails the task. Runner thread only. */
#ifndef REELAY_ENGINE_RUNNER_RESULTS_H
#define REELAY_ENGINE_RUNNER_RESULTS_H

#include <stdbool.h>
#include <curl/curl.h>

#include "engine/runner_state.h"

/* Starts downloading the result of f's job, which done (from ctx's provider) reports succeeded. On
 * failure the task fails and f is dropped. */
void result_download_start(upstream_runner *r, flight *f, const upstream_provider *provider,
                           const upstream_context *ctx, const upstream_outcome *done);

/* libcurl finished f's download with code: the file goes to a finishing thread, or the task fails (f
 * is then dropped). */
void result_download_done(upstream_runner *r, flight *f, CURLcode code);

/* Stops f's download, if one is running, and removes its scratch folder. */
void result_download_abort(upstream_runner *r, flight *f);

/* A finishing thread is done with f's result (completed or not): the channel's circuit hears of a
 * success, and f is let go. */
void result_flight_finished(upstream_runner *r, flight *f, bool completed);

#endif
