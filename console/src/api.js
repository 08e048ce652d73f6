// api.js — the console's only way to reelay: fetch() with the API key or the admin token from
// sessionStorage in an Authorization header (no cookies), errors as ApiError with the API's code and
// param, uploads, and the key's live task events read from a streamed body.
import { SseParser } from './sse.js';

const KEY_ITEM = 'reelay.key';
const ADMIN_ITEM = 'reelay.admin';
const ADMIN_TOKEN_PREFIX = 'rla_';

// The user's API key (sk-…), for /v1/.
export const session = {
  key: () => sessionStorage.getItem(KEY_ITEM) || '',
  signIn: (key) => sessionStorage.setItem(KEY_ITEM, key),
  signOut: () => sessionStorage.removeItem(KEY_ITEM),
};

// The operator's admin token (rla_…), for /admin/v1/: its own entry, so a tab can hold both.
export const adminSession = {
  token: () => sessionStorage.getItem(ADMIN_ITEM) || '',
  signIn: (token) => sessionStorage.setItem(ADMIN_ITEM, token),
  signOut: () => sessionStorage.removeItem(ADMIN_ITEM),
};

// Whether a pasted secret is the admin token (by its prefix; user keys start sk-).
export function isAdminToken(text) {
  return text.startsWith(ADMIN_TOKEN_PREFIX);
}

// An answer that was not 2xx: the API's {"error": {message, type, code, param}} when it sent one.
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error.code || null;
    this.param = error.param || null;
  }
}

function headers(extra, token = session.key()) {
  return { Authorization: `Bearer ${token}`, ...extra };
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

async function send(token, path, { method = 'GET', body, idempotencyKey, signal } = {}) {
  const extra = body === undefined ? {} : { 'Content-Type': 'application/json' };
  if (idempotencyKey) extra['Idempotency-Key'] = idempotencyKey;
  const response = await fetch(path, {
    method, signal, headers: headers(extra, token), body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit',
  });
  return answer(response);
}

// GET (no body) or POST/… with a JSON body, with the API key; resolves to the parsed answer, rejects with
// ApiError (or a TypeError when the server cannot be reached).
export function api(path, options) {
  return send(session.key(), path, options);
}

// The same with the admin token, for /admin/v1/.
export function adminApi(path, options) {
  return send(adminSession.token(), path, options);
}

// Whether an error says the route itself does not exist on this server (404 unknown_path), as opposed
// to a missing task or key: the console then shows the feature as not available.
export function isMissingRoute(error) {
  return error instanceof ApiError && error.status === 404 && error.code === 'unknown_path';
}

// One file through POST /v1/files/upload/stream: resolves to the upload ({id, url, filename, size}).
export async function uploadFile(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  const response = await fetch('/v1/files/upload/stream', {
    method: 'POST', headers: headers({}), body: form, credentials: 'omit',
  });
  return answer(response);
}

// A result link as this page may load it: links to this server's /v1/files/ are made relative (the
// Content-Security-Policy allows only this origin, and the public URL may name it differently); any
// other link is returned unchanged.
export function sameOriginUrl(url) {
  if (!url) return url;
  try {
    const parsed = new URL(url, location.href);
    if (parsed.pathname.startsWith('/v1/files/')) return parsed.pathname + parsed.search;
  } catch {
    return url;
  }
  return url;
}

// Follows GET /v1/tasks/events until signal aborts: calls onTask(task) for each "task" event and
// onState('open' | 'retrying') as the stream connects and drops; reconnects after the server's retry
// delay (2 s by default). Resolves when aborted.
export async function followTaskEvents(onTask, onState, signal) {
  let retryMs = 2000;
  while (!signal.aborted) {
    try {
      const response = await fetch('/v1/tasks/events', {
        headers: headers({ Accept: 'text/event-stream' }), signal, cache: 'no-store', credentials: 'omit',
      });
      if (!response.ok || !response.body) throw new ApiError(response.status, null);
      onState('open');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          if (event.event === 'task') {
            try {
              onTask(JSON.parse(event.data));
            } catch {
              /* a malformed event is skipped; the next one carries the whole task again */
            }
          }
        }
        const retry = /(?:^|\n)retry: *(\d+)/.exec(value);
        if (retry) retryMs = Math.min(Math.max(Number(retry[1]), 500), 30000);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 401) {
        onState('unauthorized');
        return;
      }
    }
    if (signal.aborted) return;
    onState('retrying');
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
