// helpers.test.mjs — the console's pure helpers, without a browser: the SSE parser that reads the events
// stream, the body a form's values make, and which field an API error's param names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../../console/src/sse.js';
import { fieldForParam, requestBody } from '../../console/src/form.js';

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
