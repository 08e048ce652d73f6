// task_details.js — what a task's page reads besides the task: the request that recreates it
// (GET /v1/tasks/{id}/request) and its callback's delivery state (GET /v1/tasks/{id}/callback). A
// server without one of these routes (404 unknown_path) shows that feature as not available.
import { useEffect, useState } from 'preact/hooks';
import { api, isMissingRoute } from './api.js';
import { html } from './html.js';

// The submission body that recreates a task from GET …/request's answer: {model, ...params}; null when
// the answer has no model. Members of params named "model" do not override it.
export function recreateBody(answer) {
  if (!answer || typeof answer.model !== 'string') return null;
  const params = answer.params && typeof answer.params === 'object' && !Array.isArray(answer.params) ? answer.params : {};
  const { model: ignored, ...rest } = params; // eslint-disable-line no-unused-vars
  return { model: answer.model, ...rest };
}

// {state: 'loading' | 'ready' | 'missing' | 'error', body}: body is the recreating request when ready.
export function useTaskRequest(id) {
  const [request, setRequest] = useState({ state: 'loading', body: null });
  useEffect(() => {
    setRequest({ state: 'loading', body: null });
    const controller = new AbortController();
    api(`/v1/tasks/${encodeURIComponent(id)}/request`, { signal: controller.signal }).then(
      (answer) => setRequest({ state: 'ready', body: recreateBody(answer) }),
      (error) => {
        if (!controller.signal.aborted) setRequest({ state: isMissingRoute(error) ? 'missing' : 'error', body: null });
      });
    return () => controller.abort();
  }, [id]);
  return request;
}

function moment(value) {
  if (value == null || value === '') return '';
  return typeof value === 'number' ? new Date(value * 1000).toLocaleString() : String(value);
}

// The callback's state in one sentence (the answer of GET …/callback).
export function callbackSentence(callback) {
  const attempts = `${callback.attempts} attempt${callback.attempts === 1 ? '' : 's'}`;
  const status = callback.last_status ? ` (HTTP ${callback.last_status})` : '';
  switch (callback.state) {
    case 'none': return 'No callback: the task was submitted without a callback_url.';
    case 'delivered': return `Delivered${status} after ${attempts}, ${moment(callback.updated_at)}.`;
    case 'failed': return `Not delivered after ${attempts}${status}${callback.last_error ? `: ${callback.last_error}` : ''}.`;
    case 'pending':
      return callback.attempts
        ? `Retrying after ${attempts}${status}${callback.last_error ? `: ${callback.last_error}` : ''}; next ${moment(callback.next_attempt_at)}.`
        : 'Waiting: sent when the task finishes.';
    default: return `State ${callback.state}.`;
  }
}

// Read again whenever the task's status changes (a finished task's callback is sent then).
export function CallbackState({ id, status }) {
  const [callback, setCallback] = useState({ state: 'loading', answer: null, error: '' });
  useEffect(() => {
    const controller = new AbortController();
    api(`/v1/tasks/${encodeURIComponent(id)}/callback`, { signal: controller.signal }).then(
      (answer) => setCallback({ state: 'ready', answer, error: '' }),
      (error) => {
        if (!controller.signal.aborted)
          setCallback({ state: isMissingRoute(error) ? 'missing' : 'error', answer: null, error: error.message });
      });
    return () => controller.abort();
  }, [id, status]);
  const answer = callback.answer;
  return html`
    <h3>Callback</h3>
    <div class="callback-state" id="callback-state" data-state=${answer ? answer.state : callback.state} role="status">
      ${callback.state === 'loading' ? html`<p class="muted">Reading…</p>` : null}
      ${callback.state === 'missing' ? html`<p class="muted">The callback's delivery state is not available on this server.</p>` : null}
      ${callback.state === 'error' ? html`<p class="form-error">${callback.error}</p>` : null}
      ${answer ? html`
        <p><span class=${`status callback-${answer.state}`}>${answer.state}</span> ${callbackSentence(answer)}</p>
        ${answer.url ? html`<p class="hint">to <span class="mono">${answer.url}</span></p>` : null}` : null}
    </div>`;
}
