// helpers.test.mjs — the console's pure helpers, without a browser: the SSE parser that reads the events
// stream, the body a form's values make, which field an API error's param names, the bar chart's layout,
// the operator view's routes and readings, and what a task's page makes of the request and callback
// routes' answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../../console/src/sse.js';
import { fieldForParam, requestBody } from '../../console/src/form.js';
import { barLayout } from '../../console/src/chart.js';
import { addSample, operatorRoute } from '../../console/src/operator.js';
import { keyCreateBody } from '../../console/src/admin_keys.js';
import { joinChannelHealth, percent } from '../../console/src/admin_channels.js';
import { usageBars } from '../../console/src/usage.js';
import { callbackSentence, recreateBody } from '../../console/src/task_details.js';

test('the SSE parser joins events split anywhere, skips comments, keeps event and id', () => {
  const parser = new SseParser();
  const stream = 'retry: 2000\r\n\r\n: keep-alive\n\nid: 7\nevent: task\ndata: {"a":\ndata: 1}\n\nevent: task\ndata: x\r\n\r\n';
  const events = [];
  for (let i = 0; i < stream.length; i += 3) events.push(...parser.push(stream.slice(i, i + 3)));
  assert.deepEqual(events, [{ event: 'task', data: '{"a":\n1}', id: '7' }, { event: 'task', data: 'x', id: '7' }]);
  assert.deepEqual(parser.push('data: unfinished'), []);
});

const model = {
  id: 'm',
  fields: [
    { name: 'model', type: 'string', required: true },
    { name: 'prompt', type: 'string', required: true },
    { name: 'duration', type: 'integer', default: 4 },
    { name: 'image_urls', type: 'url_array', aliases: ['image_url'] },
    { name: 'loud', type: 'boolean', default: false },
  ],
};

test('the body: empty fields left out, numbers as numbers, arrays by line, booleans when changed', () => {
  assert.deepEqual(requestBody(model, { prompt: 'x', duration: '8', image_urls: ' a \n\n b ', loud: false }),
                   { model: 'm', prompt: 'x', duration: 8, image_urls: ['a', 'b'] });
  assert.deepEqual(requestBody(model, { prompt: '  ', duration: '', loud: true }), { model: 'm', loud: true });
  assert.deepEqual(requestBody(model, { duration: 'abc' }), { model: 'm', duration: 'abc' });
});

test('an error param names its field, an alias or an item of it', () => {
  assert.equal(fieldForParam(model, 'duration'), 'duration');
  assert.equal(fieldForParam(model, 'image_url'), 'image_urls');
  assert.equal(fieldForParam(model, 'image_urls[0]'), 'image_urls');
  assert.equal(fieldForParam(model, 'seed'), null);
  assert.equal(fieldForParam(model, null), null);
});

test('the bar layout: the tallest value fills the plot, zero and missing values are flat', () => {
  const bars = barLayout([10, 0, 5, null], 400, 100, 0);
  assert.deepEqual(bars.map((bar) => bar.height), [100, 0, 50, 0]);
  assert.deepEqual(bars.map((bar) => bar.y), [0, 100, 50, 100]);
  assert.deepEqual(bars.map((bar) => bar.x), [0, 100, 200, 300]);
  assert.ok(bars.every((bar) => bar.width === 100));
  assert.deepEqual(barLayout([0, 0], 10, 10).map((bar) => bar.height), [0, 0], 'all zero: nothing drawn');
  assert.deepEqual(barLayout([], 10, 10), []);
});

test('usage bars: a bar per day the answer gives, labelled by month and day', () => {
  const answer = { data: [{ date: '2026-11-27', credits: 40, tasks: 1 }, { date: '2026-11-28', credits: 0, tasks: 0 }] };
  assert.deepEqual(usageBars(answer), [{ label: '11-27', value: 40 }, { label: '11-28', value: 0 }]);
  assert.deepEqual(usageBars(null), []);
});

test('operator routes: a section or a key, keys by default', () => {
  assert.deepEqual(operatorRoute('/console/admin'), { section: 'keys', keyId: null });
  assert.deepEqual(operatorRoute('/console/admin/channels'), { section: 'channels', keyId: null });
  assert.deepEqual(operatorRoute('/console/admin/keys/key_a%2Fb'), { section: 'keys', keyId: 'key_a/b' });
  assert.deepEqual(operatorRoute('/console/admin/nothing'), { section: 'keys', keyId: null });
});

test('throughput samples keep the last ones', () => {
  let samples = [];
  for (let i = 0; i < 5; i++) samples = addSample(samples, { finished: { last_minute: i } }, i, 3);
  assert.deepEqual(samples, [{ at: 2, value: 2 }, { at: 3, value: 3 }, { at: 4, value: 4 }]);
});

test('a new key: empty fields left out, numbers as numbers, names trimmed', () => {
  assert.deepEqual(keyCreateBody({ name: ' team a ', credits: '500', group: '', rpm: '60', max_concurrent: ' ' }),
                   { name: 'team a', credits: 500, rpm: 60 });
  assert.deepEqual(keyCreateBody({ credits: 'lots' }), { credits: 'lots' }, 'the API says what is wrong');
});

test('channels joined with their health by name; rates in percent', () => {
  const rows = joinChannelHealth([{ name: 'a' }, { name: 'b' }], { channels: [{ name: 'b', circuit: 'open' }] });
  assert.deepEqual(rows, [{ name: 'a', health: null }, { name: 'b', health: { name: 'b', circuit: 'open' } }]);
  assert.deepEqual(joinChannelHealth(null, null), []);
  assert.equal(percent(0.974), '97 %');
  assert.equal(percent(null), '—');
});

test('the request that recreates a task, and the callback in words', () => {
  assert.deepEqual(recreateBody({ task_id: 't', model: 'sora-2', params: { prompt: 'x', model: 'other' } }),
                   { prompt: 'x', model: 'sora-2' });
  assert.deepEqual(recreateBody({ model: 'm', params: null }), { model: 'm' });
  assert.equal(Object.keys(recreateBody({ model: 'm', params: { a: 1 } }))[0], 'model', 'the model first, as the form sends it');
  assert.equal(recreateBody({ params: {} }), null);
  assert.match(callbackSentence({ state: 'none', attempts: 0 }), /without a callback_url/);
  assert.match(callbackSentence({ state: 'delivered', attempts: 1, last_status: 200, updated_at: 0 }),
               /^Delivered \(HTTP 200\) after 1 attempt,/);
  assert.equal(callbackSentence({ state: 'failed', attempts: 3, last_status: 500, last_error: 'boom' }),
               'Not delivered after 3 attempts (HTTP 500): boom.');
  assert.equal(callbackSentence({ state: 'pending', attempts: 0 }), 'Waiting: sent when the task finishes.');
});
