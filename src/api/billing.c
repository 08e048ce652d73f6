/* billing.c — what third-party clients of this API read to show "credits left" and prices
 * (specs/client-compat.md): OpenAI's old dashboard billing look-ups and the pricing list the common
 * open-source gateways publish.
 *
 * Credits ↔ USD: these answers count one credit as one unit of their "USD" fields (no exchange rate:
 * reelay has no money, only credits). For a key with A credits available and R reserved by unfinished
 * tasks:
 *   GET [/v1]/dashboard/billing/subscription → hard_limit_usd = soft_limit_usd = system_hard_limit_usd
 *                                              = A + R
 *   GET [/v1]/dashboard/billing/usage        → total_usage = R × 100 (hundredths, whatever the dates)
 * so a client's remaining = hard_limit_usd − total_usage / 100 = A = GET /v1/balance's
 * credits_available. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "catalog/catalog.h"
#include "catalog/prices.h"

/* The key's balance, or false after answering (401/429 by api_authenticate, 503 when the store fails). */
static bool read_balance(http_exchange *exchange, credit_balance *balance)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return false;
    if (store_credits_balance(thread->db, key.id, balance) != STORE_OK) {
        api_send_store_unavailable(exchange->req, "The balance could not be read; retry later.");
        return false;
    }
    return true;
}

void api_billing_subscription(http_exchange *exchange)
{
    credit_balance balance;
    if (!read_balance(exchange, &balance)) return;
    long long limit = (long long)(balance.available + balance.reserved);
    char body[320];
    int length = snprintf(body, sizeof(body),
                          "{\"object\":\"billing_subscription\",\"has_payment_method\":true,"
                          "\"soft_limit_usd\":%lld,\"hard_limit_usd\":%lld,\"system_hard_limit_usd\":%lld,"
                          "\"access_until\":0}",
                          limit, limit, limit);
    if (length < 0 || (size_t)length >= sizeof(body)) {
        http_send_error_code(exchange->req, "internal_error", NULL, "The subscription could not be written.");
        return;
    }
    http_send_json(exchange->req, 200, body, (size_t)length);
}

void api_billing_usage(http_exchange *exchange)
{
    credit_balance balance;
    if (!read_balance(exchange, &balance)) return;
    char body[96];
    int length = snprintf(body, sizeof(body), "{\"object\":\"list\",\"total_usage\":%lld}",
                          (long long)balance.reserved * 100);
    if (length < 0 || (size_t)length >= sizeof(body)) {
        http_send_error_code(exchange->req, "internal_error", NULL, "The usage could not be written.");
        return;
    }
    http_send_json(exchange->req, 200, body, (size_t)length);
}

/* One model as the gateways' pricing lists show it: quota_type 1 (a price per call) with model_price
 * the model's base credits — per output second when reelay's unit is "second" (said by "unit"), per
 * task when it is "task"; the multipliers by parameter value follow as reelay's own fields. */
static json_t *pricing_row(const price_table *table, const catalog_model *model, json_t *groups)
{
    json_t *price = price_model_json(table, model, "default");
    if (price == NULL) return NULL;
    json_t *row =
        json_pack("{s:s, s:i, s:O, s:i, s:i, s:O, s:O, s:O, s:s}", "model_name", model->id, "quota_type", 1,
                  "model_price", json_object_get(price, "credits"), "model_ratio", 0, "completion_ratio", 0,
                  "enable_groups", groups, "unit", json_object_get(price, "unit"), "multipliers",
                  json_object_get(price, "multipliers"), "currency", "credits");
    json_decref(price);
    return row;
}

void api_pricing_list(http_exchange *exchange)
{
    const api_app *app = ((api_thread *)exchange->thread_data)->app;
    if (app->prices == NULL) {
        http_send_error_code(exchange->req, "not_found", NULL, "This server has no price list.");
        return;
    }
    json_t *group_ratio = price_groups_json(app->prices);
    json_t *groups = json_array(), *data = json_array();
    const char *name;
    json_t *ratio;
    json_object_foreach(group_ratio, name, ratio) json_array_append_new(groups, json_string(name));
    bool complete = group_ratio && groups && data;
    for (size_t i = 0; complete && i < catalog_model_count(); i++)
        complete = json_array_append_new(data, pricing_row(app->prices, catalog_model_at(i), groups)) == 0;
    json_decref(groups);
    json_t *answer = complete ? json_pack("{s:b, s:s, s:O, s:O}", "success", true, "message", "", "data",
                                          data, "group_ratio", group_ratio)
                              : NULL;
    json_decref(data), json_decref(group_ratio);
    char *text = answer ? json_dumps(answer, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(answer);
    if (text == NULL) {
        http_send_error_code(exchange->req, "internal_error", NULL, "The price list could not be written.");
        return;
    }
    http_send_json(exchange->req, 200, text, strlen(text));
    free(text);
}
