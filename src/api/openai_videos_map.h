/* openai_videos_map.h — OpenAI's Videos API (/v1/videos) over reelay's unified tasks, as pure mappings:
 * no I/O, no store, no request. Wire shapes: specs/client-compat.md.
 *
 * The task is the same underneath: a video created through /v1/videos is a task of
 * /v1/videos/generations and the other way round. These functions only translate:
 *   - a task → OpenAI's video object (openai_video_object);
 *   - an OpenAI create body → the unified body catalog_validate reads (openai_video_request_to_unified):
 *     `seconds` ("4", a string, or 4) ↔ `duration`, `size` ("1280x720") ↔ `aspect_ratio` + `resolution`,
 *     every other field (a model's own fields: image_urls, sync_mode, …) passed through unchanged.
 *
 * Sizes: a size "WxH" means resolution "<short side>p" (1024 is OpenAI's sora-2-pro size, shown as 1080p)
 * and aspect ratio "16:9" (landscape), "9:16" (portrait) or "1:1" (square); only the fields the model has
 * are set, and catalog_validate refuses values the model does not offer. Shown back, 720p is 1280x720 or
 * 720x1280 and 1080p is OpenAI's 1792x1024 or 1024x1792 (what OpenAI's SDK types list); a model without
 * an aspect ratio shows its result's own width x height. */
#ifndef REELAY_API_OPENAI_VIDEOS_MAP_H
#define REELAY_API_OPENAI_VIDEOS_MAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "store/store.h"
#include "util/error.h"

/* OpenAI's status of a task state: "queued" (pending, submitting), "in_progress" (processing,
 * finalizing), "completed", "failed" (failed and cancelled). Static string. */
const char *openai_video_status(task_state state);

/* The video object of a task (a new reference; NULL when out of memory): {id, object "video", model,
 * status, progress, created_at, completed_at, expires_at, prompt, seconds, size, remixed_from_video_id,
 * error}. completed_at is set once the task finished; expires_at (completed_at + link_ttl_seconds, when
 * its downloads stop working) only when completed; error {code, message} only when failed or cancelled
 * (code "cancelled" for a cancelled task without its own). seconds is a string ("8") or null. */
json_t *openai_video_object(const task_record *task, int64_t link_ttl_seconds);

/* Parses an OpenAI size "WxH" (1 to 5 digits each, no sign or space) into an aspect ratio ("16:9",
 * "9:16", "1:1") and a resolution ("720p"; a short side of 1024 is "1080p"). False when malformed. */
bool openai_size_parse(const char *size, char aspect[8], char resolution[8]);

/* OpenAI's size for an aspect ratio ("16:9"/"1280x720" or "9:16"/"720x1280") and a resolution ("720p",
 * "1080p") into out; false (out "") for any other pair or when out is too small. */
bool openai_size_from(const char *aspect, const char *resolution, char *out, size_t out_size);

/* The unified body of an OpenAI create body (borrowed; not changed): a new object, or NULL with err
 * filled — 422 invalid_value (param "seconds" or "size") for a malformed value, 422 unsupported_field
 * when the model has no field to take it (duration; aspect_ratio and resolution), 422 duplicate_field
 * when both `seconds` and `duration` (or `size` and `aspect_ratio`/`resolution`) are given, 500
 * internal_error when out of memory. Without a model, the model is sora-2 (OpenAI's default); an unknown
 * model is passed through for catalog_validate to refuse. input_reference {"image_url": URL} is set as
 * openai_reference_set does (422 unsupported_field for {"file_id"}, invalid_type for any other shape).
 * An empty `prompt` is dropped for a model without one (OpenAI's Python SDK requires the argument). */
json_t *openai_video_request_to_unified(const json_t *body, reelay_error *err);

/* The OpenAI names an OpenAI body used for unified fields, for errors to name what the client sent: a
 * new object {"duration": "seconds"} (with `seconds`), {"aspect_ratio"/"resolution": "size"} (with
 * `size`), {"<image field>": "input_reference"} (with `input_reference`); NULL when out of memory. */
json_t *openai_param_names(const json_t *body);

/* The model's input an input_reference fills: its first image input (sora's image_urls[0], a talking
 * head's image_url), or NULL when it takes no image. */
const catalog_media_input *openai_reference_input(const catalog_model *model);

/* Sets the reference's URL on the unified body, in the model's image field (as a one-item array where
 * the field is a list). False with err: 422 unsupported_field (param input_reference) when the model
 * takes no image, 422 duplicate_field when the body already gives that field, 500 when out of memory. */
bool openai_reference_set(json_t *unified, const catalog_model *model, const char *url, reelay_error *err);

#endif
