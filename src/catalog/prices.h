/* prices.h — what a task costs, in whole credits.
 *
 * A price table gives each model a base price, per output second or per task, multipliers by
 * parameter value (e.g. "resolution": {"1080p": 1.7}, "mode": {"pro": 1.6}) and a multiplier per
 * key group (user_group). It is read from a JSON file (documented in the README, written with the
 * defaults by `reelay init` as <data>/prices.json) or taken from the built-in defaults:
 *
 *   {"groups": {"default": 1, "vip": 0.8},
 *    "models": {"sora-2": {"unit": "second", "credits": 10, "multipliers": {"resolution": {"1080p": 1.5}}},
 * …}}
 *
 * A model left out of the file keeps its default; an unknown model, unit, field or a negative number is
 * an error. A key whose group is not listed pays the "default" group's multiplier.
 *
 * Billable seconds follow the seed rules: lip-sync by sync_mode from the input durations (loop, bounce,
 * remap → audio; cut_off → the shorter; silence → video), talking head by the audio, motion control by
 * the reference video, text to video by `duration`. The quote at submit reserves
 * ceil(rate × billable seconds); completion charges ceil(rate × the output's real duration), never more
 * than was reserved. The rate is fixed at admission (the task's billing record), so a price change never
 * alters a task already accepted. Pure functions: no I/O except price_table_load's read of the file. */
#ifndef REELAY_CATALOG_PRICES_H
#define REELAY_CATALOG_PRICES_H

#include <jansson.h>
#include <stdint.h>

#include "catalog/catalog.h"

typedef struct price_table price_table;

/* Loads the table from path (NULL = the built-in defaults only). Returns NULL with err on a missing
 * or malformed file. */
price_table *price_table_load(const char *path, char *err, size_t err_size);
void price_table_free(price_table *table);
/* The defaults as the JSON text of a price file (malloc'd), for `reelay init`. */
char *price_table_default_json(void);

/* The durations probed from a task's inputs (0 when the model has no such input). */
typedef struct billing_inputs {
    double video_seconds;
    double audio_seconds;
} billing_inputs;

/* Billable seconds of a task with these validated params (catalog_validate's output) and inputs: the
 * first of the model's billing rules (catalog_model.billable) whose condition holds; 0 when none does. */
double price_billable_seconds(const catalog_model *model, const json_t *params, const billing_inputs *inputs);

/* True when the table prices the model (every catalog model should be in the defaults). */
bool price_table_has_model(const price_table *table, const char *model_id);

typedef struct price_quote {
    int64_t credits; /* to reserve */
    double rate;     /* credits per second (unit second) or per task, multipliers included */
    double seconds;  /* billable seconds estimated at submit */
    bool per_second;
} price_quote;

/* The quote for a task; its billing record (what store keeps as billing_json) is price_quote_json. */
price_quote price_quote_task(const price_table *table, const catalog_model *model, const json_t *params,
                             const billing_inputs *inputs, const char *user_group);
/* {"unit":"second"|"task","rate":…,"seconds":…,"credits":…}; malloc'd text. */
char *price_quote_json(const price_quote *quote);
/* The rule a quote applied, as POST /v1/videos/generations/quote shows it: {"unit","rate",
 * "seconds_from": "audio"|"video"|"shorter"|"param"|"none" (the model's first billing rule whose
 * condition holds with these params; "none" for a price per task), "param" (the parameter giving the
 * seconds, or null), "when" ({"<param>":"<value>"} of that rule, or null), "rounding"}. New reference;
 * NULL when out of memory. */
json_t *price_quote_rule_json(const catalog_model *model, const json_t *params, const price_quote *quote);

/* The charge at completion from the task's billing record and the output's real duration (seconds; 0 if
 * unknown, which charges the reservation): ceil(rate × seconds), clamped to the reservation. -1 (charge
 * the reservation) when billing_json is NULL or unreadable. */
int64_t price_settle(const char *billing_json, double output_seconds);

/* The model's pricing for GET /v1/models: {"unit","credits","multipliers",…,"group_multiplier"} for
 * user_group. New reference; caller decrefs. */
json_t *price_model_json(const price_table *table, const catalog_model *model, const char *user_group);

/* The key groups and their multipliers, {"default":1,"vip":0.8,…} ("default" always there). New
 * reference; caller decrefs. */
json_t *price_groups_json(const price_table *table);

#endif
