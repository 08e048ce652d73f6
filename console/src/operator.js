// operator.js — the operator view (signed in with the admin token): its header and sections — keys,
// channels with their health, a live view of tasks by state and model with throughput (the summary read
// every 2 s), and the credits audit. Routes: /console/admin[/keys[/<id>]|/channels|/activity|/audit].
import { useRef, useState } from 'preact/hooks';
import { adminApi } from './api.js';
import { ChannelsPanel } from './admin_channels.js';
import { KeyPage, KeysPanel } from './admin_keys.js';
import { BarChart } from './chart.js';
import { html } from './html.js';
import { usePolling } from './poll.js';
import { Link } from './tasks.js';

const SUMMARY_POLL_MS = 2000;
const THROUGHPUT_SAMPLES = 30;
const STATES = ['pending', 'submitting', 'processing', 'finalizing', 'completed', 'failed', 'cancelled'];
const SECTIONS = [
  { path: 'keys', title: 'Keys' },
  { path: 'channels', title: 'Channels' },
  { path: 'activity', title: 'Activity' },
  { path: 'audit', title: 'Credits audit' },
];

export function isOperatorPath(path) {
  return path === '/console/admin' || path.startsWith('/console/admin/');
}

// The section a path names and, for a key's page, the key: {section, keyId}.
export function operatorRoute(path) {
  const parts = path.replace(/^\/console\/admin\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const section = SECTIONS.some((s) => s.path === parts[0]) ? parts[0] : 'keys';
  return { section, keyId: section === 'keys' && parts[1] ? parts[1] : null };
}

// Adds a throughput sample (the summary's finished.last_minute at a time) and keeps the last `limit`.
export function addSample(samples, summary, at, limit = THROUGHPUT_SAMPLES) {
  return [...samples, { at, value: summary.finished.last_minute }].slice(-limit);
}

function Activity() {
  const samples = useRef([]);
  const summary = usePolling(async () => {
    const answer = await adminApi('/admin/v1/tasks/summary');
    samples.current = addSample(samples.current, answer, new Date());
    return answer;
  }, SUMMARY_POLL_MS);
  const data = summary.data;
  const models = data ? Object.entries(data.by_model).sort((a, b) => b[1].total - a[1].total) : [];
  // a fixed number of slots, filled from the right as readings come in
  const bars = [...Array(THROUGHPUT_SAMPLES - samples.current.length).fill({ label: '', value: null }),
                ...samples.current.map((sample) => ({ label: sample.at.toLocaleTimeString(), value: sample.value }))];
  return html`
    <section class="panel" aria-labelledby="activity-title">
      <div class="section-head"><h2 id="activity-title">Activity</h2>
        <span class=${`live ${summary.error ? '' : 'live-open'}`} role="status">${summary.error ? 'retrying…' : 'live, every 2 s'}</span></div>
      ${summary.error ? html`<p class="form-error" role="alert">${summary.error}</p>` : null}
      ${data ? html`
        <div class="stats">
          <div class="stat"><span class="stat-value" id="finished-per-minute">${data.finished.last_minute}</span>
            <span class="stat-label">finished / minute</span></div>
          <div class="stat"><span class="stat-value">${data.finished.last_hour}</span><span class="stat-label">finished / hour</span></div>
          <div class="stat"><span class="stat-value" id="tasks-total">${data.total}</span><span class="stat-label">tasks in all</span></div>
        </div>
        <h3>Finished in the last minute, over time</h3>
        <${BarChart} id="throughput-chart" bars=${bars} unit="tasks" title="Tasks finished in the last minute, sampled every 2 s" />
        <h3>By state</h3>
        <ul class="states">${STATES.map((state) => html`
          <li data-state=${state}><span class=${`status status-${state}`}>${state}</span> <strong>${data.by_state[state] ?? 0}</strong></li>`)}
        </ul>
        <h3>By model</h3>
        ${models.length === 0 ? html`<p class="muted">No tasks yet.</p>` : html`
        <div class="table-wrap">
          <table class="data stack by-model">
            <thead><tr><th scope="col">model</th><th scope="col" class="num">total</th>
              ${STATES.map((state) => html`<th scope="col" class="num">${state}</th>`)}</tr></thead>
            <tbody>${models.map(([model, counts]) => html`
              <tr key=${model} data-model=${model}><th scope="row">${model}</th><td class="num" data-label="total">${counts.total}</td>
                ${STATES.map((state) => html`<td class="num" data-label=${state}>${counts.by_state[state] ?? 0}</td>`)}</tr>`)}
            </tbody>
          </table>
        </div>`}` : summary.error ? null : html`<p class="muted">Loading…</p>`}
    </section>`;
}

function Audit() {
  const [state, setState] = useState({ busy: false, error: '', result: null });
  async function run() {
    setState({ busy: true, error: '', result: null });
    try {
      setState({ busy: false, error: '', result: await adminApi('/admin/v1/credits/audit') });
    } catch (error) {
      setState({ busy: false, error: error.message, result: null });
    }
  }
  const result = state.result;
  return html`
    <section class="panel" aria-labelledby="audit-title">
      <h2 id="audit-title">Credits audit</h2>
      <p class="hint">Checks every key's balance against its ledger and every task's charge.</p>
      <button type="button" onClick=${run} disabled=${state.busy}>${state.busy ? 'Auditing…' : 'Run the audit'}</button>
      ${state.error ? html`<p class="form-error" role="alert">${state.error}</p>` : null}
      ${result ? html`
        <p class=${result.ok ? 'audit-ok' : 'form-error'} role="status" id="audit-result">
          ${result.ok ? 'Everything adds up.' : `${result.problems} problem${result.problems === 1 ? '' : 's'}.`}</p>
        <dl class="facts">
          <dt>keys checked</dt><dd>${result.keys_checked}</dd>
          <dt>tasks checked</dt><dd>${result.tasks_checked}</dd>
          <dt>tasks before the ledger</dt><dd>${result.tasks_before_ledger}</dd>
          ${result.first_problem ? html`<dt>first problem</dt><dd>${typeof result.first_problem === 'string'
            ? result.first_problem : JSON.stringify(result.first_problem)}</dd>` : null}
        </dl>` : null}
    </section>`;
}

export function Operator({ path, navigate, onSignOut, hasUserKey }) {
  const route = operatorRoute(path);
  let body;
  if (route.keyId) body = html`<${KeyPage} key=${route.keyId} id=${route.keyId} navigate=${navigate} />`;
  else if (route.section === 'channels') body = html`<${ChannelsPanel} />`;
  else if (route.section === 'activity') body = html`<${Activity} />`;
  else if (route.section === 'audit') body = html`<${Audit} />`;
  else body = html`<${KeysPanel} navigate=${navigate} />`;
  return html`
    <header class="top operator">
      <${Link} href="/console/admin" navigate=${navigate} class="brand">reelay operator<//>
      <${Link} href="/console" navigate=${navigate}>${hasUserKey ? 'User view' : 'Sign in with a key'}<//>
      <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
    </header>
    <nav class="tabs" aria-label="Operator sections">
      ${SECTIONS.map((section) => html`
        <${Link} href=${`/console/admin/${section.path}`} navigate=${navigate}
                 aria-current=${route.section === section.path ? 'page' : undefined}>${section.title}<//>`)}
    </nav>
    <main class="one-column wide">${body}</main>`;
}
