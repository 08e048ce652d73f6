// OpenAI's official JavaScript SDK (npm `openai`, pinned in package.json) against reelay's own
// /v1/videos: what a user with an existing OpenAI client gets. Started by
// tests/e2e/test_openai_sdk.py, which runs a reelay server on the sandbox and passes:
//   REELAY_URL        the server (http://127.0.0.1:PORT)
//   REELAY_KEY        a key with credits
//   REELAY_RPM_KEY    a key limited to REELAY_RPM requests a minute
//   IMAGE_FILE        a PNG for input_reference
//   VIDEO_URL, AUDIO_URL  media on a loopback server the server may fetch (a lip-sync's inputs)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import OpenAI, { toFile } from "openai";

const env = process.env;
const client = new OpenAI({ apiKey: env.REELAY_KEY, baseURL: `${env.REELAY_URL}/v1`, maxRetries: 0 });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The loop of openai-python's videos.create_and_poll (the JavaScript SDK has no such helper): create,
// then retrieve until completed or failed, waiting what the `openai-poll-after-ms` header says.
async function createAndPoll(body) {
  let video = await client.videos.create(body);
  const waits = [];
  for (let i = 0; i < 240 && !["completed", "failed"].includes(video.status); i++) {
    const { data, response } = await client.videos.retrieve(video.id).withResponse();
    video = data;
    const after = response.headers.get("openai-poll-after-ms");
    if (after !== null) waits.push(Number(after));
    await sleep(Math.min(Number(after ?? 1000), 250)); // the header's wait, shortened for a quick test
  }
  return { video, waits };
}

const bytesOf = async (response) => Buffer.from(await response.arrayBuffer());

test("create (the SDK's multipart, with input_reference) and retrieve", async () => {
  const image = await toFile(readFileSync(env.IMAGE_FILE), "frame.png", { type: "image/png" });
  const video = await client.videos.create({
    model: "sora-2-pro", prompt: "a lighthouse", seconds: "8", size: "1792x1024", input_reference: image,
  });
  assert.equal(video.object, "video");
  assert.equal(video.model, "sora-2-pro");
  assert.equal(video.seconds, "8");
  assert.equal(video.size, "1792x1024");
  assert.ok(["queued", "in_progress"].includes(video.status), video.status);
  const again = await client.videos.retrieve(video.id);
  assert.equal(again.id, video.id);
  assert.equal(again.prompt, "a lighthouse");
});

test("createAndPoll's loop reaches completed, and downloadContent gives each variant's bytes", async () => {
  const { video, waits } = await createAndPoll({ model: "sora-2", prompt: "a red ball", seconds: "4", size: "720x1280" });
  assert.equal(video.status, "completed", JSON.stringify(video.error));
  assert.equal(video.progress, 100);
  assert.ok(video.completed_at >= video.created_at && video.expires_at > video.completed_at);
  assert.ok(waits.length > 0 && waits.every((ms) => ms === 1000), `poll-after headers: ${waits}`);
  const mp4 = await bytesOf(await client.videos.downloadContent(video.id));
  assert.equal(mp4.subarray(4, 8).toString("latin1"), "ftyp"); // an MP4's first box
  const same = await bytesOf(await client.videos.downloadContent(video.id, { variant: "video" }));
  assert.ok(same.equals(mp4));
  for (const variant of ["thumbnail", "spritesheet"]) {
    const response = await client.videos.downloadContent(video.id, { variant });
    assert.equal(response.headers.get("content-type"), "image/jpeg");
    const jpeg = await bytesOf(response);
    assert.ok(jpeg.length > 100 && jpeg[0] === 0xff && jpeg[1] === 0xd8, `${variant} is a JPEG`);
  }
  const remix = await client.videos.remix(video.id, { prompt: "a blue ball" });
  assert.equal(remix.remixed_from_video_id, video.id);
  assert.equal(remix.prompt, "a blue ball");
});

test("another model through the SDK, its own fields as extra body fields", async () => {
  const { video } = await createAndPoll({ model: "lipsync-2", video_url: env.VIDEO_URL, audio_url: env.AUDIO_URL, sync_mode: "cut_off" });
  assert.equal(video.status, "completed", JSON.stringify(video.error));
  assert.equal(video.model, "lipsync-2");
  assert.match(video.size, /^\d+x\d+$/);
});

test("list auto-paginates with after, both orders", async () => {
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await client.videos.create({ prompt: `page ${i}` })).id);
  const seen = [];
  for await (const video of client.videos.list({ limit: 2 })) seen.push(video.id);
  // newest first: the five just made lead, in reverse order of creation
  assert.deepEqual(seen.slice(0, 5), [...made].reverse());
  const ascending = [];
  for await (const video of client.videos.list({ limit: 3, order: "asc" })) ascending.push(video.id);
  assert.deepEqual(ascending, [...seen].reverse());
  const page = await client.videos.list({ limit: 2 });
  assert.equal(page.data.length, 2);
  assert.ok(page.hasNextPage());
});

test("delete removes a finished video; a queued one cannot be deleted", async () => {
  const { video } = await createAndPoll({ prompt: "to delete" });
  assert.equal(video.status, "completed");
  const deleted = await client.videos.delete(video.id);
  assert.deepEqual(deleted, { id: video.id, object: "video.deleted", deleted: true });
  await assert.rejects(client.videos.retrieve(video.id), OpenAI.NotFoundError);
  await assert.rejects(client.videos.downloadContent(video.id), OpenAI.NotFoundError);
});

test("the unified task API and its event stream through the SDK's generic methods", async () => {
  const task = await client.post("/videos/generations", { body: { model: "sora-2", prompt: "unified", duration: 4 } });
  assert.equal(task.object, "video.generation.task");
  assert.equal(task.status, "pending");
  const stream = await client.get(`/tasks/${task.id}/events`, { stream: true });
  const seen = [];
  for await (const event of stream) seen.push(event); // the stream ends after the terminal event
  assert.ok(seen.length >= 2, `events: ${seen.length}`);
  assert.ok(seen.every((event) => event.id === task.id));
  assert.equal(seen.at(-1).status, "completed");
  assert.equal(seen.at(-1).progress, 100);
  const video = await client.videos.retrieve(task.id); // the same task through the other API
  assert.equal(video.status, "completed");
});

test("the SDK's error classes: 401, 404, 422, 429", async () => {
  const stranger = new OpenAI({ apiKey: "sk-not-a-key", baseURL: `${env.REELAY_URL}/v1`, maxRetries: 0 });
  const unauthorized = await stranger.videos.list().catch((e) => e);
  assert.ok(unauthorized instanceof OpenAI.AuthenticationError, String(unauthorized));
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.code, "invalid_api_key");

  const missing = await client.videos.retrieve("task_no_such_video").catch((e) => e);
  assert.ok(missing instanceof OpenAI.NotFoundError, String(missing));
  assert.equal(missing.param, "video_id");

  const invalid = await client.videos.create({ prompt: "x", seconds: "7" }).catch((e) => e);
  assert.ok(invalid instanceof OpenAI.UnprocessableEntityError, String(invalid));
  assert.equal(invalid.code, "invalid_value");
  assert.equal(invalid.param, "seconds");

  const limited = new OpenAI({ apiKey: env.REELAY_RPM_KEY, baseURL: `${env.REELAY_URL}/v1`, maxRetries: 0 });
  let error;
  for (let i = 0; i <= Number(env.REELAY_RPM) && error === undefined; i++)
    error = await limited.videos.list({ limit: 1 }).then(() => undefined, (e) => e);
  assert.ok(error instanceof OpenAI.RateLimitError, String(error));
  assert.equal(error.status, 429);
});
