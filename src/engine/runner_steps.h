/* runner_steps.h — one flight's steps, as engine/task_machine.h decides them (internal to the engine):
 * a channel chosen (engine/routing.h) and the task's upstream record written before its submission
 * leaves; each request built by the provider's adapter and sent (engine/upstream_transfer.h); each
 * answer read by the adapter and turned into the machine's next action, which is carried out here —
 * polls scheduled, refusals routed to the next channel, unknown submissions recorded and looked up,
 * results handed to engine/runner_results.h, failures recorded. Every record write is a
 * compare-and-set: a task found finished meanwhile is let go. Runner thread only; f may be gone
 * (dropped) when any of these returns. */
#ifndef REELAY_ENGINE_RUNNER_STEPS_H
#define REELAY_ENGINE_RUNNER_STEPS_H

#include <stdint.h>
#include <curl/curl.h>

#include "engine/runner_state.h"

/* Asks the machine what event means for f now and does it. */
void flight_decide(upstream_runner *r, flight *f, const task_event *event, int64_t now_ms);

/* Chooses a channel for f (giving back any slot it holds) and submits it there, hands it to the
 * sandbox, waits for a busy channel, or fails it when no channel can take it. */
void flight_route(upstream_runner *r, flight *f, int64_t now_ms);

/* f's turn came in its channel's lane: sends the step it waited to send (f->next_step). */
void flight_send_waiting(upstream_runner *r, flight *f, int64_t now_ms);

/* f's request ended (libcurl's code, the transfer's result; f's transfer is no longer active): the
 * answer is read and acted on. */
void flight_answered(upstream_runner *r, flight *f, CURLcode code, const upstream_transfer_result *result,
                     int64_t now_ms);

/* Logs a step of a task: "task=<id> <what> channel=<channel>[ <detail>]". */
void flight_log(const char *task_id, const char *what, const char *channel, const char *detail);

#endif
