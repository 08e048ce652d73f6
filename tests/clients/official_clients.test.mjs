// The providers' own JavaScript clients against reelay's provider emulators: if the real clients
// accept an emulator, the emulator speaks the provider's wire contract. Started by
// tests/e2e/test_official_clients.py, which runs the emulators and passes their addresses in
// FAL_EMULATOR and OPENAI_EMULATOR.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { fal } from "@fal-ai/client";
import OpenAI from "openai";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("@fal-ai/client: queue submit, status and result against the fal emulator", async () => {
  const emulator = process.env.FAL_EMULATOR;
  fal.config({
    credentials: "fal_test_key",
    // the client builds https://queue.fal.run/… itself: send those requests to the emulator instead
    requestMiddleware: async (request) => ({
      ...request,
      url: request.url.replace("https://queue.fal.run", emulator),
    }),
  });
  const endpoint = "fal-ai/sync-lipsync/v2";
  const submitted = await fal.queue.submit(endpoint, {
    input: { video_url: "https://example.com/v.mp4", audio_url: "https://example.com/a.wav", sync_mode: "loop" },
  });
  assert.match(submitted.request_id, /^[0-9a-f-]{36}$/);
  assert.equal(submitted.status, "IN_QUEUE");
  assert.ok(submitted.status_url.endsWith(`/fal-ai/sync-lipsync/requests/${submitted.request_id}/status`));

  let status;
  for (let i = 0; i < 100; i++) {
    status = await fal.queue.status(endpoint, { requestId: submitted.request_id, logs: true });
    if (status.status === "COMPLETED") break;
    assert.ok(["IN_QUEUE", "IN_PROGRESS"].includes(status.status), status.status);
    await sleep(100);
  }
  assert.equal(status.status, "COMPLETED");
  const result = await fal.queue.result(endpoint, { requestId: submitted.request_id });
  assert.equal(result.requestId, submitted.request_id);
  assert.equal(result.data.video.content_type, "video/mp4");
  const media = await fetch(result.data.video.url);
  assert.equal(media.status, 200);
  assert.equal((await media.arrayBuffer()).byteLength, readFileSync(process.env.MEDIA_FILE).length);

  // the model's own failure comes back as the client's ValidationError
  await assert.rejects(fal.queue.submit(endpoint, { input: { audio_url: "https://example.com/a.wav" } }),
    (error) => error.status === 422 && JSON.stringify(error.body).includes("video_url"));
});

test("openai: videos.create, retrieve and downloadContent against the OpenAI emulator", async () => {
  const client = new OpenAI({ apiKey: "sk-test", baseURL: process.env.OPENAI_EMULATOR, maxRetries: 0 });
  const created = await client.videos.create({ model: "sora-2", prompt: "a paper boat", seconds: "8", size: "1280x720" });
  assert.match(created.id, /^video_/);
  assert.equal(created.status, "queued");
  assert.equal(created.seconds, "8");
  let video = created;
  for (let i = 0; i < 100 && video.status !== "completed"; i++) {
    await sleep(100);
    video = await client.videos.retrieve(created.id);
    assert.ok(video.progress >= 0 && video.progress <= 100);
  }
  assert.equal(video.status, "completed");
  assert.equal(video.progress, 100);
  assert.ok(video.expires_at > video.completed_at);
  const content = await client.videos.downloadContent(created.id);
  assert.equal(content.headers.get("content-type"), "video/mp4");
  assert.equal((await content.arrayBuffer()).byteLength, readFileSync(process.env.MEDIA_FILE).length);

  await assert.rejects(client.videos.create({ model: "sora-2", prompt: "x", size: "999x999" }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === "size");
  const wrongKey = new OpenAI({ apiKey: "sk-wrong", baseURL: process.env.OPENAI_EMULATOR, maxRetries: 0 });
  await assert.rejects(wrongKey.videos.retrieve(created.id), (error) => error instanceof OpenAI.AuthenticationError);
});
