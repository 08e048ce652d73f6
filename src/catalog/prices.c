/* prices.c — the price table: built-in defaults, a JSON file over them, quotes and settlement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/prices.h"
#include "util/json_text.h"

/* The defaults, written as a price file: the loader reads them exactly as it reads an operator's file.
 * Illustrative figures (1 credit ≈ 1/1000 of a US dollar); operators edit <data>/prices.json. */
static const char default_prices[] =
    "{\n"
    "  \"groups\": {\"default\": 1, \"vip\": 0.8},\n"
    "  \"models\": {\n"
    "    \"lipsync-2\": {\"unit\": \"second\", \"credits\": 50},\n"
    "    \"lipsync-2-pro\": {\"unit\": \"second\", \"credits\": 84},\n"
    "    \"sync-3\": {\"unit\": \"second\", \"credits\": 134},\n"
    "    \"creatify-aurora\": {\"unit\": \"second\", \"credits\": 100,"
    " \"multipliers\": {\"resolution\": {\"480p\": 0.5}}},\n"
    "    \"kling-v3-motion-control\": {\"unit\": \"second\", \"credits\": 112,"
    " \"multipliers\": {\"mode\": {\"pro\": 1.6}}},\n"
    "    \"kling-v2-6-motion-control\": {\"unit\": \"second\", \"credits\": 70,"
    " \"multipliers\": {\"mode\": {\"pro\": 1.6}}},\n"
    "    \"sora-2\": {\"unit\": \"second\", \"credits\": 100, \"multipliers\": {\"resolution\": {\"1080p\": "
    "1.5}}},\n"
    "    \"sora-2-pro\": {\"unit\": \"second\", \"credits\": 300,"
    " \"multipliers\": {\"resolution\": {\"1080p\": 1.7}}}\n"
    "  }\n"
    "}\n";

struct price_table {
    json_t *groups; /* {"name": multiplier} */
    json_t *models; /* {"model": {"unit", "credits", "multipliers"}} */
};

static bool is_non_negative_number(const json_t *value)
{
    return json_is_number(value) && isfinite(json_number_value(value)) && json_number_value(value) >= 0;
}

/* Checks one model's entry; fills err on the first problem. */
static bool model_entry_valid(const catalog_model *model, const json_t *entry, char *err, size_t err_size)
{
    const char *key;
    json_t *value;
    if (!json_is_object(entry)) {
        snprintf(err, err_size, "models.%s must be an object", model->id);
        return false;
    }
    json_object_foreach((json_t *)entry, key, value)
    {
        if (strcmp(key, "unit") != 0 && strcmp(key, "credits") != 0 && strcmp(key, "multipliers") != 0) {
            snprintf(err, err_size, "models.%s: unknown key \"%s\" (expected unit, credits, multipliers)",
                     model->id, key);
            return false;
        }
    }
    const char *unit = json_string_value(json_object_get(entry, "unit"));
    if (unit == NULL || (strcmp(unit, "second") != 0 && strcmp(unit, "task") != 0)) {
        snprintf(err, err_size, "models.%s.unit must be \"second\" or \"task\"", model->id);
        return false;
    }
    if (!is_non_negative_number(json_object_get(entry, "credits"))) {
        snprintf(err, err_size, "models.%s.credits must be a number ≥ 0", model->id);
        return false;
    }
    json_t *multipliers = json_object_get(entry, "multipliers");
    if (multipliers == NULL) return true;
    if (!json_is_object(multipliers)) {
        snprintf(err, err_size, "models.%s.multipliers must be an object", model->id);
        return false;
    }
    const char *field;
    json_t *by_value;
    json_object_foreach(multipliers, field, by_value)
    {
        bool known = false;
        for (size_t i = 0; i < model->field_count; i++)
            if (strcmp(model->fields[i].name, field) == 0) known = true;
        if (!known || !json_is_object(by_value)) {
            snprintf(err, err_size, "models.%s.multipliers.%s: %s", model->id, field,
                     known ? "must be an object of value → multiplier" : "the model has no such field");
            return false;
        }
        const char *option;
        json_t *factor;
        json_object_foreach(by_value, option, factor)
        {
            if (!is_non_negative_number(factor)) {
                snprintf(err, err_size, "models.%s.multipliers.%s.%s must be a number ≥ 0", model->id, field,
                         option);
                return false;
            }
        }
    }
    return true;
}

/* Merges one price document into the table (entries replace entries). */
static bool merge(price_table *table, json_t *document, char *err, size_t err_size)
{
    if (!json_is_object(document)) {
        snprintf(err, err_size, "the price file must be a JSON object");
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach(document, key, value)
    {
        if (strcmp(key, "groups") != 0 && strcmp(key, "models") != 0) {
            snprintf(err, err_size, "unknown key \"%s\" (expected groups, models)", key);
            return false;
        }
    }
    json_t *groups = json_object_get(document, "groups");
    if (groups) {
        if (!json_is_object(groups)) {
            snprintf(err, err_size, "groups must be an object of name → multiplier");
            return false;
        }
        json_object_foreach(groups, key, value)
        {
            if (!is_non_negative_number(value)) {
                snprintf(err, err_size, "groups.%s must be a number ≥ 0", key);
                return false;
            }
            json_object_set(table->groups, key, value);
        }
    }
    json_t *models = json_object_get(document, "models");
    if (models) {
        if (!json_is_object(models)) {
            snprintf(err, err_size, "models must be an object of model id → price");
            return false;
        }
        json_object_foreach(models, key, value)
        {
            const catalog_model *model = catalog_model_find(key);
            if (model == NULL) {
                snprintf(err, err_size, "models.%s: no such model", key);
                return false;
            }
            if (!model_entry_valid(model, value, err, err_size)) return false;
            json_object_set(table->models, key, value);
        }
    }
    return true;
}

price_table *price_table_load(const char *path, char *err, size_t err_size)
{
    price_table *table = calloc(1, sizeof(*table));
    if (table == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    table->groups = json_object();
    table->models = json_object();
    json_error_t error;
    json_t *defaults = json_loads(default_prices, 0, &error);
    bool ok = defaults != NULL && merge(table, defaults, err, err_size);
    json_decref(defaults);
    if (ok && path) {
        json_t *file = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
        if (file == NULL) {
            snprintf(err, err_size, "%s: %s (line %d)", path, error.text, error.line);
            ok = false;
        } else {
            char problem[256] = "";
            ok = merge(table, file, problem, sizeof(problem));
            if (!ok) snprintf(err, err_size, "%s: %s", path, problem);
            json_decref(file);
        }
    }
    if (ok && json_object_get(table->groups, "default") == NULL)
        json_object_set_new(table->groups, "default", json_real(1));
    if (!ok) {
        price_table_free(table);
        return NULL;
    }
    return table;
}

void price_table_free(price_table *table)
{
    if (table == NULL) return;
    json_decref(table->groups);
    json_decref(table->models);
    free(table);
}

char *price_table_default_json(void)
{
    return strdup(default_prices);
}

double price_billable_seconds(const catalog_model *model, const json_t *params, const billing_inputs *inputs)
{
    for (const catalog_billing_rule *rule = model->billable; rule && rule->seconds != CATALOG_SECONDS_NONE;
         rule++) {
        if (!catalog_condition_holds(&rule->when, params)) continue;
        switch (rule->seconds) {
        case CATALOG_SECONDS_AUDIO:
            return inputs->audio_seconds;
        case CATALOG_SECONDS_VIDEO:
            return inputs->video_seconds;
        case CATALOG_SECONDS_SHORTER:
            return fmin(inputs->video_seconds, inputs->audio_seconds);
        case CATALOG_SECONDS_PARAM: {
            json_t *value = json_object_get(params, rule->param);
            return json_is_number(value) ? json_number_value(value) : rule->fallback;
        }
        case CATALOG_SECONDS_NONE:
            break;
        }
    }
    return 0;
}

bool price_table_has_model(const price_table *table, const char *model_id)
{
    return json_object_get(table->models, model_id) != NULL;
}

static double group_multiplier(const price_table *table, const char *user_group)
{
    json_t *factor = json_object_get(table->groups, user_group ? user_group : "default");
    if (factor == NULL) factor = json_object_get(table->groups, "default");
    return json_number_value(factor);
}

/* Credits for an amount, rounded up to a whole credit (with a little slack for binary fractions). */
static int64_t whole_credits(double amount)
{
    if (!(amount > 0)) return 0;
    double rounded = ceil(amount - 1e-6);
    return rounded > 1e15 ? (int64_t)1e15 : (int64_t)rounded;
}

price_quote price_quote_task(const price_table *table, const catalog_model *model, const json_t *params,
                             const billing_inputs *inputs, const char *user_group)
{
    price_quote quote = {0};
    json_t *entry = json_object_get(table->models, model->id);
    const char *unit = json_string_value(json_object_get(entry, "unit"));
    quote.per_second = unit == NULL || strcmp(unit, "second") == 0;
    double rate = json_number_value(json_object_get(entry, "credits")) * group_multiplier(table, user_group);
    const char *field;
    json_t *by_value;
    json_object_foreach(json_object_get(entry, "multipliers"), field, by_value)
    {
        json_t *given = json_object_get(params, field);
        char text[32] = "";
        if (json_is_string(given))
            snprintf(text, sizeof(text), "%s", json_string_value(given));
        else if (json_is_integer(given))
            snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(given));
        json_t *factor = text[0] ? json_object_get(by_value, text) : NULL;
        if (factor) rate *= json_number_value(factor);
    }
    quote.rate = rate;
    quote.seconds = quote.per_second ? price_billable_seconds(model, params, inputs) : 0;
    quote.credits = whole_credits(quote.per_second ? rate * quote.seconds : rate);
    return quote;
}

char *price_quote_json(const price_quote *quote)
{
    /* written directly (json_text): one per submission, where a jansson tree cost 6 % of the CPU */
    json_text text = {0};
    json_text_raw(&text, "{\"unit\":");
    json_text_string(&text, quote->per_second ? "second" : "task");
    json_text_key(&text, "rate", false);
    json_text_number(&text, quote->rate);
    json_text_key(&text, "seconds", false);
    json_text_number(&text, quote->seconds);
    json_text_key(&text, "credits", false);
    json_text_integer(&text, quote->credits);
    json_text_raw(&text, "}");
    if (text.failed) {
        json_text_free(&text);
        return NULL;
    }
    return text.data;
}

static const char *seconds_source_name(catalog_seconds_source source)
{
    switch (source) {
    case CATALOG_SECONDS_AUDIO:
        return "audio";
    case CATALOG_SECONDS_VIDEO:
        return "video";
    case CATALOG_SECONDS_SHORTER:
        return "shorter";
    case CATALOG_SECONDS_PARAM:
        return "param";
    case CATALOG_SECONDS_NONE:
        break;
    }
    return "none";
}

json_t *price_quote_rule_json(const catalog_model *model, const json_t *params, const price_quote *quote)
{
    const catalog_billing_rule *applied = NULL;
    for (const catalog_billing_rule *rule = model->billable;
         quote->per_second && rule && rule->seconds != CATALOG_SECONDS_NONE && applied == NULL; rule++)
        if (catalog_condition_holds(&rule->when, params)) applied = rule;
    json_t *when = applied && applied->when.param
                       ? json_pack("{s:s}", applied->when.param, applied->when.value)
                       : json_null();
    const char *param = applied && applied->seconds == CATALOG_SECONDS_PARAM ? applied->param : NULL;
    return json_pack(
        "{s:s, s:f, s:s, s:s?, s:o, s:s}", "unit", quote->per_second ? "second" : "task", "rate", quote->rate,
        "seconds_from", seconds_source_name(applied ? applied->seconds : CATALOG_SECONDS_NONE), "param",
        param, "when", when, "rounding", quote->per_second ? "ceil(rate × billable_seconds)" : "ceil(rate)");
}

int64_t price_settle(const char *billing_json, double output_seconds)
{
    json_t *record = billing_json ? json_loads(billing_json, 0, NULL) : NULL;
    json_t *credits = json_object_get(record, "credits"), *rate = json_object_get(record, "rate");
    const char *unit = json_string_value(json_object_get(record, "unit"));
    int64_t charge = -1;
    if (json_is_integer(credits) && json_is_number(rate) && unit) {
        int64_t reserved = json_integer_value(credits);
        charge = reserved;
        if (strcmp(unit, "second") == 0 && output_seconds > 0 && isfinite(output_seconds)) {
            int64_t actual = whole_credits(json_number_value(rate) * output_seconds);
            charge = actual < reserved ? actual : reserved;
        }
    }
    json_decref(record);
    return charge;
}

json_t *price_model_json(const price_table *table, const catalog_model *model, const char *user_group)
{
    json_t *entry = json_object_get(table->models, model->id);
    json_t *multipliers = json_object_get(entry, "multipliers");
    return json_pack("{s:O,s:O,s:o,s:f,s:s}", "unit", json_object_get(entry, "unit"), "credits",
                     json_object_get(entry, "credits"), "multipliers",
                     multipliers ? json_incref(multipliers) : json_object(), "group_multiplier",
                     group_multiplier(table, user_group), "rounding",
                     "each task's charge is rounded up to a whole credit");
}

json_t *price_groups_json(const price_table *table)
{
    return json_deep_copy(table->groups);
}
