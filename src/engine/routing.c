/* routing.c — channel choice and the circuit breaker (see routing.h). */
#include "engine/routing.h"

#include <stdio.h>
#include <string.h>

bool routing_serves(const routing_channel *channel, const char *model)
{
    return channel->record.enabled && channel->provider != NULL &&
           channel_serves_model(&channel->record, model) &&
           upstream_provider_serves(channel->provider, model);
}

static bool honours_all(const routing_channel *channel, const char *model, const json_t *advanced)
{
    size_t i;
    json_t *name;
    json_array_foreach(advanced, i, name)
    {
        if (!json_is_string(name) ||
            !upstream_provider_honours(channel->provider, model, json_string_value(name)))
            return false;
    }
    return true;
}

routing_verdict routing_check(const routing_channel *channels, size_t count, const char *model,
                              const json_t *advanced, json_t **unsupported)
{
    bool any = false;
    for (size_t i = 0; i < count; i++) {
        if (!routing_serves(&channels[i], model)) continue;
        any = true;
        if (honours_all(&channels[i], model, advanced)) return ROUTING_CHOSEN;
    }
    if (!any) return ROUTING_NO_CHANNEL;
    if (unsupported != NULL) {
        /* name the options that no serving channel honours (or, if each is honoured by some channel
         * but never all together, every option given) */
        json_t *names = json_array();
        size_t i;
        json_t *name;
        json_array_foreach(advanced, i, name)
        {
            bool honoured = false;
            for (size_t c = 0; c < count && !honoured; c++)
                honoured = routing_serves(&channels[c], model) &&
                           upstream_provider_honours(channels[c].provider, model, json_string_value(name));
            if (!honoured) json_array_append(names, name);
        }
        if (json_array_size(names) == 0) json_array_extend(names, (json_t *)advanced);
        *unsupported = names;
    }
    return ROUTING_UNSUPPORTED;
}

bool routing_is_open(const routing_channel *channel, int64_t now_ms)
{
    return channel->open_until_ms != 0 && now_ms < channel->open_until_ms;
}

static bool was_tried(const char *name, const char *const *tried)
{
    for (size_t i = 0; tried && tried[i]; i++)
        if (strcmp(tried[i], name) == 0) return true;
    return false;
}

routing_verdict routing_choose(routing_channel *channels, size_t count, const char *model,
                               const json_t *advanced, const char *const *tried, int64_t now_ms,
                               uint32_t random, size_t *chosen, int64_t *retry_at_ms)
{
    int best_priority = 0;
    bool have_best = false, any_candidate = false;
    int64_t earliest = INT64_MAX;
    /* first pass: the highest priority among channels that can take a task now */
    for (size_t i = 0; i < count; i++) {
        routing_channel *c = &channels[i];
        if (!routing_serves(c, model) || !honours_all(c, model, advanced) || was_tried(c->record.name, tried))
            continue;
        any_candidate = true;
        bool full = c->record.max_concurrent > 0 && c->in_flight >= c->record.max_concurrent;
        bool throttled = now_ms < c->throttled_until_ms;
        bool open = routing_is_open(c, now_ms);
        bool trial_busy = c->open_until_ms != 0 && !open && c->trial_in_flight;
        if (throttled && c->throttled_until_ms < earliest) earliest = c->throttled_until_ms;
        if (open && c->open_until_ms < earliest) earliest = c->open_until_ms;
        if (full || throttled || open || trial_busy) continue;
        if (!have_best || c->record.priority > best_priority)
            best_priority = c->record.priority, have_best = true;
    }
    if (!any_candidate) return ROUTING_NO_CHANNEL;
    if (!have_best) {
        *retry_at_ms = earliest == INT64_MAX ? now_ms + 1000 : earliest;
        return ROUTING_BUSY;
    }
    /* second pass: weighted choice among the available channels of that priority */
    uint64_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t point = pass == 1 ? random % total : 0, running = 0;
        for (size_t i = 0; i < count; i++) {
            routing_channel *c = &channels[i];
            if (!routing_serves(c, model) || !honours_all(c, model, advanced) ||
                was_tried(c->record.name, tried) || c->record.priority != best_priority ||
                now_ms < c->throttled_until_ms || routing_is_open(c, now_ms) ||
                (c->record.max_concurrent > 0 && c->in_flight >= c->record.max_concurrent) ||
                (c->open_until_ms != 0 && c->trial_in_flight))
                continue;
            uint64_t weight = c->record.weight > 0 ? (uint64_t)c->record.weight : 1;
            if (pass == 0) {
                total += weight;
            } else if (point < running + weight) {
                *chosen = i;
                if (c->open_until_ms != 0) c->trial_in_flight = true; /* half-open: this task is the trial */
                return ROUTING_CHOSEN;
            } else {
                running += weight;
            }
        }
    }
    return ROUTING_NO_CHANNEL; /* unreachable: total > 0 when have_best */
}

void routing_record_success(routing_channel *channel)
{
    channel->consecutive_failures = 0;
    channel->open_until_ms = 0;
    channel->cooldown_ms = 0;
    channel->trial_in_flight = false;
}

void routing_record_failure(routing_channel *channel, int64_t now_ms)
{
    channel->consecutive_failures++;
    bool trial_failed = channel->open_until_ms != 0; /* half-open trial (or still open) */
    if (trial_failed || channel->consecutive_failures >= ROUTING_FAILURES_TO_OPEN) {
        if (channel->cooldown_ms == 0)
            channel->cooldown_ms = ROUTING_COOLDOWN_MS;
        else if (trial_failed)
            channel->cooldown_ms *= 2;
        if (channel->cooldown_ms > ROUTING_COOLDOWN_MAX_MS) channel->cooldown_ms = ROUTING_COOLDOWN_MAX_MS;
        channel->open_until_ms = now_ms + channel->cooldown_ms;
        channel->trial_in_flight = false;
    }
}

void routing_health_of(const routing_channel *channel, routing_channel_health *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", channel->record.name);
    out->usable = channel->provider != NULL;
    out->in_flight = channel->in_flight;
    out->consecutive_failures = channel->consecutive_failures;
    out->open_until_ms = channel->open_until_ms;
    out->trial_in_flight = channel->trial_in_flight;
    out->throttled_until_ms = channel->throttled_until_ms;
}

routing_circuit routing_circuit_state(const routing_channel_health *health, int64_t now_ms)
{
    if (health->open_until_ms == 0) return ROUTING_CIRCUIT_CLOSED;
    return now_ms < health->open_until_ms ? ROUTING_CIRCUIT_OPEN : ROUTING_CIRCUIT_HALF_OPEN;
}

const char *routing_circuit_name(routing_circuit circuit)
{
    switch (circuit) {
    case ROUTING_CIRCUIT_OPEN:
        return "open";
    case ROUTING_CIRCUIT_HALF_OPEN:
        return "half_open";
    case ROUTING_CIRCUIT_CLOSED:
    default:
        return "closed";
    }
}
