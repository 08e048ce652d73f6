/* runner_flights.h — a task's life on a provider channel, as the upstream runner follows it (internal
 * to the engine): routed to a channel (or handed to the sandbox), submitted, looked up when its
 * submission went unanswered, polled, its result document fetched, its result downloaded and handed
 * to the finishing threads, cancelled upstream when it is cancelled here. Each step asks
 * engine/task_machine.h what comes next and carries it out.
 *
 * The task's upstream record (channel, job, channels tried, submission phase) is written to the store
 * before every step that depends on it, so a restart resumes each task where it was; every write is a
 * compare-and-set, and a task found finished meanwhile (cancelled, timed out) is simply let go.
 * Runner thread only; `now_ms` is Unix milliseconds. */
#ifndef REELAY_ENGINE_RUNNER_FLIGHTS_H
#define REELAY_ENGINE_RUNNER_FLIGHTS_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>

#include "engine/runner_state.h"

/* Starts following task_id (new, or unfinished at start) and decides where it resumes. A task already
 * followed, finished, or unreadable is ignored. */
void flight_begin(upstream_runner *r, const char *task_id, int64_t now_ms);

/* The task was finished elsewhere: stop following it, asking the provider to cancel its job when it
 * can (the answer only logged). A result being stored is left to find the task finished. */
void flight_cancel(upstream_runner *r, const char *task_id);

/* A webhook or a client asked for fresh news about f: poll (or look up) now, within the rules; job_ended: a
 * verified webhook, which for a provider whose webhooks come once a job ended fetches the result at once. */
void flight_poke(upstream_runner *r, flight *f, int64_t now_ms, bool job_ended);

/* f's timer fired (it has been taken off the timer heap). */
void flight_due(upstream_runner *r, flight *f, int64_t now_ms);

/* libcurl finished a request or download of f's (easy is the handle it reported, code its verdict):
 * its answer is read and acted on. */
void flight_transfer_done(upstream_runner *r, flight *f, CURL *easy, CURLcode code);

/* Fails f's task with code and message (unless it finished meanwhile) and drops f. */
void flight_fail(upstream_runner *r, flight *f, const char *code, const char *message);

/* Stops following f: its timer, request and download end, its slot is given back, and it is freed. */
void flight_drop(upstream_runner *r, flight *f);

#endif
