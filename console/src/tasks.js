// tasks.js — the task list (filters, live progress) and a task's page (player, poster, spritesheet,
// results, error, the curl command that would recreate it, cancel, the callback's delivery state).
import { useState } from 'preact/hooks';
import { api, sameOriginUrl } from './api.js';
import { html } from './html.js';
import { CallbackState, useTaskRequest } from './task_details.js';

export const STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'];
const REQUEST_ITEM = 'reelay.request.';

// The body this tab submitted for a task, kept (sessionStorage) to show its curl command on a server
// without GET /v1/tasks/{id}/request.
export const requests = {
  remember: (id, body) => sessionStorage.setItem(REQUEST_ITEM + id, JSON.stringify(body)),
  recall: (id) => {
    try {
      return JSON.parse(sessionStorage.getItem(REQUEST_ITEM + id) || 'null');
    } catch {
      return null;
    }
  },
};

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

function StatusBadge({ status }) {
  return html`<span class=${`status status-${status}`}>${status}</span>`;
}

function Progress({ task, id }) {
  return html`<span class="progress">
    <progress max="100" value=${task.progress} aria-labelledby=${id}></progress>
    <span id=${id}>${task.progress} %</span></span>`;
}

export function Link({ href, navigate, children, ...rest }) {
  function follow(event) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  }
  return html`<a href=${href} onClick=${follow} ...${rest}>${children}</a>`;
}

export function TaskList({ tasks, filters, setFilters, models, state, navigate }) {
  return html`
    <section class="task-list" aria-labelledby="tasks-title">
      <div class="section-head">
        <h2 id="tasks-title">Tasks</h2>
        <span class=${`live live-${state.live}`} role="status">${state.live === 'open' ? 'live' : state.live === 'retrying' ? 'reconnecting…' : ''}</span>
      </div>
      <div class="filters">
        <label for="filter-status">status</label>
        <select id="filter-status" value=${filters.status} onChange=${(event) => setFilters({ ...filters, status: event.target.value })}>
          <option value="">any</option>
          ${STATUSES.map((status) => html`<option value=${status}>${status}</option>`)}
        </select>
        <label for="filter-model">model</label>
        <select id="filter-model" value=${filters.model} onChange=${(event) => setFilters({ ...filters, model: event.target.value })}>
          <option value="">any</option>
          ${models.map((model) => html`<option value=${model.id}>${model.id}</option>`)}
        </select>
      </div>
      ${state.error ? html`<p class="form-error" role="alert">${state.error}</p>` : null}
      ${!state.error && tasks.length === 0 ? html`<p class="muted">${state.loading ? 'Loading…' : 'No tasks yet.'}</p>` : null}
      <ul class="tasks">
        ${tasks.map((task) => html`
          <li key=${task.id} class="task-row" data-task=${task.id}>
            <${Link} href=${`/console/tasks/${task.id}`} navigate=${navigate} class="task-id">${task.id}<//>
            <span class="task-model">${task.model}</span>
            <${StatusBadge} status=${task.status} />
            <${Progress} task=${task} id=${`row-progress-${task.id}`} />
            <span class="muted task-created">${when(task.created)}</span>
          </li>`)}
      </ul>
    </section>`;
}

function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

// The command that would submit the same task again (the key left as $REELAY_KEY), or read this one
// when its request is not known (a server without GET …/request, for a task this tab did not submit).
export function curlCommand(origin, task, body) {
  if (body) {
    return `curl ${origin}/v1/videos/generations \\\n  -H "Authorization: Bearer $REELAY_KEY" \\\n` +
      `  -H "Content-Type: application/json" \\\n  -d ${shellQuote(JSON.stringify(body))}`;
  }
  return `curl ${origin}/v1/tasks/${task.id} \\\n  -H "Authorization: Bearer $REELAY_KEY"`;
}

function Result({ result, index }) {
  const url = sameOriginUrl(result.url);
  const poster = sameOriginUrl(result.thumbnail_url);
  const sprites = sameOriginUrl(result.spritesheet_url);
  const isVideo = (result.content_type || '').startsWith('video/');
  const isAudio = (result.content_type || '').startsWith('audio/');
  return html`
    <figure class="result">
      ${isVideo ? html`<video controls playsinline preload="metadata" src=${url} poster=${poster || undefined}
                               aria-label=${`Result ${index + 1}`}></video>` : null}
      ${isAudio ? html`<audio controls preload="metadata" src=${url} aria-label=${`Result ${index + 1}`}></audio>` : null}
      <figcaption>
        ${result.content_type}${result.width ? ` · ${result.width}×${result.height}` : ''}${result.duration ? ` · ${result.duration} s` : ''}
      </figcaption>
      <ul class="links">
        <li><a href=${url} download>Download result ${index + 1}</a></li>
        ${poster ? html`<li><a href=${poster} target="_blank" rel="noopener noreferrer">Poster</a></li>` : null}
        ${sprites ? html`<li><a href=${sprites} target="_blank" rel="noopener noreferrer">Spritesheet</a></li>` : null}
      </ul>
      ${sprites ? html`<img class="spritesheet" src=${sprites} alt=${`Spritesheet of result ${index + 1}: frames across the video`} loading="lazy" />` : null}
    </figure>`;
}

export function TaskPage({ id, task, loadError, navigate, onChanged }) {
  const [cancelState, setCancelState] = useState({ busy: false, error: '' });
  const [copied, setCopied] = useState('');
  const recreated = useTaskRequest(id);
  if (loadError) {
    return html`<section><p class="form-error" role="alert">${loadError}</p>
      <${Link} href="/console" navigate=${navigate}>Back to the tasks<//></section>`;
  }
  if (!task) return html`<section><p class="muted">Loading ${id}…</p></section>`;
  const body = recreated.state === 'ready' ? recreated.body : recreated.state === 'loading' ? null : requests.recall(task.id);
  const command = curlCommand(location.origin, task, body);
  async function cancel() {
    setCancelState({ busy: true, error: '' });
    try {
      onChanged(await api(`/v1/tasks/${encodeURIComponent(task.id)}/cancel`, { method: 'POST' }));
      setCancelState({ busy: false, error: '' });
    } catch (error) {
      setCancelState({ busy: false, error: error.message });
    }
  }
  async function copy() {
    try {
      await navigator.clipboard.writeText(command);
      setCopied('Copied.');
    } catch {
      setCopied('Select the text to copy it.');
    }
  }
  const usage = task.usage || {};
  return html`
    <article class="task-page" aria-labelledby="task-title">
      <p><${Link} href="/console" navigate=${navigate}>← All tasks<//></p>
      <h2 id="task-title" class="task-title">${task.id}</h2>
      <dl class="facts">
        <dt>model</dt><dd>${task.model}</dd>
        <dt>status</dt><dd><${StatusBadge} status=${task.status} /></dd>
        <dt>progress</dt><dd><${Progress} task=${task} id="task-progress" /></dd>
        <dt>created</dt><dd>${when(task.created)}</dd>
        ${task.task_info && task.task_info.estimated_time != null && task.status !== 'completed'
          ? html`<dt>estimated</dt><dd>${task.task_info.estimated_time} s</dd>` : null}
        ${usage.credits_reserved != null ? html`<dt>credits reserved</dt><dd>${usage.credits_reserved}</dd>` : null}
        ${usage.credits_charged != null ? html`<dt>credits charged</dt><dd>${usage.credits_charged}</dd>` : null}
      </dl>
      ${task.task_info && task.task_info.can_cancel ? html`
        <p><button type="button" class="danger" onClick=${cancel} disabled=${cancelState.busy}>
          ${cancelState.busy ? 'Cancelling…' : 'Cancel task'}</button></p>` : null}
      ${cancelState.error ? html`<p class="form-error" role="alert">${cancelState.error}</p>` : null}
      ${task.error ? html`<div class="task-error" role="alert"><strong>${task.error.code || 'error'}</strong>: ${task.error.message}</div>` : null}
      ${(task.results || []).map((result, index) => html`<${Result} result=${result} index=${index} />`)}
      <${CallbackState} id=${task.id} status=${task.status} />
      <h3>${body ? 'Submit it again with curl' : 'Read it with curl'}</h3>
      <pre class="curl" tabindex="0" aria-label="curl command"><code>${command}</code></pre>
      <p><button type="button" class="secondary" onClick=${copy}>Copy the command</button> <span role="status">${copied}</span></p>
    </article>`;
}
