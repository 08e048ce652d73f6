/* quote.c — POST /v1/videos/generations/quote: what a submit of the same body would reserve.
 *
 * The body goes through the submit's own checks (admission.h: validation, callback_url, routing, the
 * probe of its media inputs on the offload pool, their documented limits, the price), so a quote
 * answers the same errors as the submit would. Nothing is stored or charged: no task, no reservation,
 * no Idempotency-Key consumed (the header is ignored), no concurrency slot. The request counts against
 * the key's rate limit like any other. Answer:
 *
 *   {"object":"quote","model":"sora-2","credits":40,"billable_seconds":4,"user_group":"default",
 *    "rule":{"unit":"second","rate":10,"seconds_from":"param","param":"duration","when":null,
 *            "rounding":"ceil(rate × billable_seconds)"}}
 *
 * credits equals the usage.credits_reserved of the task the same body, submitted by the same key with
 * the same prices, would get. */
#include <stdlib.h>

#include "api/admission.h"

static void send_quote(h2o_req_t *req, const admission_check *check, const price_quote *quote)
{
    json_t *rule = price_quote_rule_json(check->model, check->params, quote);
    json_t *answer =
        rule ? json_pack("{s:s, s:s, s:I, s:f, s:s, s:o}", "object", "quote", "model", check->model->id,
                         "credits", (json_int_t)quote->credits, "billable_seconds", quote->seconds,
                         "user_group", check->key.user_group, "rule", rule)
             : NULL;
    char *text = answer ? json_dumps(answer, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(answer);
    if (text == NULL) {
        http_send_error_code(req, "internal_error", NULL, "The quote could not be written.");
        return;
    }
    http_send_json(req, 200, text, strlen(text));
    free(text);
}

/* admission_check.probed of a quote: limits, price, answer; then the check goes. */
static void quote_probed(h2o_req_t *req, admission_check *check)
{
    if (req != NULL) {
        reelay_error err;
        price_quote quote;
        if (admission_price(check, &quote, &err))
            send_quote(req, check, &quote);
        else
            http_send_error(req, &err);
    }
    admission_clear(check);
    free(check);
}

void api_generations_quote(http_exchange *exchange)
{
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    reelay_error err;
    json_t *body = api_parse_json_object(req, &err);
    if (body == NULL) {
        http_send_error(req, &err);
        return;
    }
    admission_check *check = calloc(1, sizeof(*check));
    if (check == NULL) {
        json_decref(body);
        http_send_error_code(req, "overloaded", NULL, "The server is out of memory; retry later.");
        return;
    }
    *check = (admission_check){.thread = exchange->thread_data, .key = key, .probed = quote_probed};
    bool valid = admission_validate(check, req, body);
    json_decref(body);
    /* once admission_probe returns true, quote_probed owns (and may already have freed) the check */
    if (!valid || !admission_route(check, req) || !admission_probe(check, req)) {
        admission_clear(check);
        free(check);
    }
}
