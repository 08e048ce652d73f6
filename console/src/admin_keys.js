// admin_keys.js — the operator's keys: the list with balances, creating a key (its secret shown once,
// with a copy button), and one key's page (grant or take back credits, its ledger, revoke).
import { useState } from 'preact/hooks';
import { adminApi } from './api.js';
import { html } from './html.js';
import { usePolling } from './poll.js';
import { Link } from './tasks.js';

const LEDGER_LIMIT = 100;

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

// The body of POST /admin/v1/keys from the form: empty fields left out (the server's defaults), numbers
// as numbers when they are numbers (as typed otherwise: the API says what is wrong).
export function keyCreateBody(values) {
  const body = {};
  for (const [name, value] of Object.entries(values)) {
    const text = String(value ?? '').trim();
    if (text === '') continue;
    if (name === 'name' || name === 'group') body[name] = text;
    else body[name] = Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return body;
}

function CopyButton({ text, label }) {
  const [note, setNote] = useState('');
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setNote('Copied.');
    } catch {
      setNote('Select the text to copy it.');
    }
  }
  return html`<button type="button" class="secondary" onClick=${copy}>${label}</button> <span role="status">${note}</span>`;
}

function NewKey({ created, onDone }) {
  return html`
    <div class="new-key" role="alert" aria-labelledby="new-key-title">
      <h3 id="new-key-title">Key ${created.id} created</h3>
      <p>Copy it now: it is not shown again (only its hash is kept).</p>
      <pre class="secret" tabindex="0" aria-label="the new key"><code id="new-key">${created.key}</code></pre>
      <p><${CopyButton} text=${created.key} label="Copy the key" /></p>
      <p class="muted">Webhook secret (signs this key's callbacks):</p>
      <pre class="secret" tabindex="0" aria-label="its webhook secret"><code>${created.webhook_secret}</code></pre>
      <p><${CopyButton} text=${created.webhook_secret} label="Copy the webhook secret" /></p>
      <button type="button" onClick=${onDone}>Done</button>
    </div>`;
}

const CREATE_FIELDS = [
  { name: 'name', label: 'name', type: 'text', hint: 'what this key is for' },
  { name: 'credits', label: 'credits', type: 'number', hint: 'granted at creation (default 0)' },
  { name: 'group', label: 'group', type: 'text', hint: 'its price group (default "default")' },
  { name: 'rpm', label: 'requests per minute', type: 'number', hint: '0: no limit' },
  { name: 'max_concurrent', label: 'max concurrent tasks', type: 'number', hint: '0: no limit' },
];

function CreateKey({ onCreated }) {
  const [values, setValues] = useState({});
  const [error, setError] = useState({ param: null, message: '' });
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError({ param: null, message: '' });
    try {
      onCreated(await adminApi('/admin/v1/keys', { method: 'POST', body: keyCreateBody(values) }));
      setValues({});
    } catch (failure) {
      setError({ param: failure.param, message: failure.message });
    } finally {
      setBusy(false);
    }
  }
  return html`
    <form class="admin-form" onSubmit=${submit} aria-labelledby="create-key-title" noValidate>
      <h3 id="create-key-title">Create a key</h3>
      <div class="form-grid">
        ${CREATE_FIELDS.map((field) => html`
          <div class=${`field${error.param === field.name ? ' has-error' : ''}`}>
            <label for=${`key-${field.name}`}>${field.label}</label>
            <input id=${`key-${field.name}`} type=${field.type} inputmode=${field.type === 'number' ? 'numeric' : undefined}
                   min=${field.type === 'number' ? 0 : undefined} value=${values[field.name] ?? ''}
                   aria-describedby=${`key-${field.name}-help`} aria-invalid=${error.param === field.name ? 'true' : 'false'}
                   onInput=${(event) => setValues({ ...values, [field.name]: event.target.value })} />
            <p class="hint" id=${`key-${field.name}-help`}>${field.hint}</p>
          </div>`)}
      </div>
      ${error.message ? html`<p class="form-error" role="alert">${error.message}</p>` : null}
      <button type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create the key'}</button>
    </form>`;
}

export function KeysPanel({ navigate }) {
  const keys = usePolling(() => adminApi('/admin/v1/keys'), 0);
  const [created, setCreated] = useState(null);
  const rows = keys.data ? keys.data.data : [];
  return html`
    <section class="panel" aria-labelledby="keys-title">
      <h2 id="keys-title">Keys</h2>
      ${created ? html`<${NewKey} created=${created} onDone=${() => setCreated(null)} />`
                : html`<${CreateKey} onCreated=${(key) => { setCreated(key); keys.reload(); }} />`}
      ${keys.error ? html`<p class="form-error" role="alert">${keys.error}</p>` : null}
      ${!keys.data && !keys.error ? html`<p class="muted">Loading…</p>` : null}
      <div class="table-wrap">
        <table class="data stack keys-table">
          <thead><tr><th scope="col">name</th><th scope="col">id</th><th scope="col">group</th>
            <th scope="col" class="num">available</th><th scope="col" class="num">reserved</th>
            <th scope="col" class="num">rpm</th><th scope="col" class="num">concurrent</th><th scope="col">state</th></tr></thead>
          <tbody>
            ${rows.map((key) => html`
              <tr key=${key.id} data-key=${key.id}>
                <td data-label="name"><${Link} href=${`/console/admin/keys/${key.id}`} navigate=${navigate}>${key.name || '(no name)'}<//></td>
                <td class="mono" data-label="id">${key.id}</td><td data-label="group">${key.user_group}</td>
                <td class="num key-available" data-label="available">${key.credits_available}</td>
                <td class="num" data-label="reserved">${key.credits_reserved}</td>
                <td class="num" data-label="rpm">${key.rpm || '—'}</td><td class="num" data-label="concurrent">${key.max_concurrent || '—'}</td>
                <td data-label="state">${key.revoked ? html`<span class="status status-failed">revoked</span>` : html`<span class="status status-completed">active</span>`}</td>
              </tr>`)}
          </tbody>
        </table>
      </div>
    </section>`;
}

function CreditsForm({ keyId, onChanged }) {
  const [amount, setAmount] = useState('');
  const [note, setNote] = useState('');
  const [state, setState] = useState({ busy: false, error: '' });
  async function submit(event) {
    event.preventDefault();
    setState({ busy: true, error: '' });
    const number = Number(amount);
    const body = { amount: Number.isFinite(number) && amount.trim() !== '' ? number : amount };
    if (note.trim()) body.note = note.trim();
    try {
      await adminApi(`/admin/v1/keys/${encodeURIComponent(keyId)}/credits`, { method: 'POST', body });
      setAmount('');
      setNote('');
      setState({ busy: false, error: '' });
      onChanged();
    } catch (error) {
      setState({ busy: false, error: error.message });
    }
  }
  return html`
    <form class="admin-form" onSubmit=${submit} aria-labelledby="grant-title" noValidate>
      <h3 id="grant-title">Grant or take back credits</h3>
      <div class="form-grid">
        <div class="field"><label for="grant-amount">amount</label>
          <input id="grant-amount" type="number" inputmode="numeric" step="1" value=${amount} required
                 aria-describedby="grant-amount-help" onInput=${(event) => setAmount(event.target.value)} />
          <p class="hint" id="grant-amount-help">negative takes back (never below zero)</p></div>
        <div class="field"><label for="grant-note">note</label>
          <input id="grant-note" type="text" value=${note} onInput=${(event) => setNote(event.target.value)} /></div>
      </div>
      ${state.error ? html`<p class="form-error" role="alert">${state.error}</p>` : null}
      <button type="submit" disabled=${state.busy || amount.trim() === ''}>Apply</button>
    </form>`;
}

// One key: its balance and limits, credits, its ledger (newest first), revoke (asked twice).
export function KeyPage({ id, navigate }) {
  const path = `/admin/v1/keys/${encodeURIComponent(id)}`;
  const credits = usePolling(() => adminApi(`${path}/credits?limit=${LEDGER_LIMIT}`), 0);
  const listed = usePolling(async () => (await adminApi('/admin/v1/keys')).data.find((key) => key.id === id), 0);
  const [revoke, setRevoke] = useState({ asked: false, error: '' });
  const key = listed.data;
  const reload = () => { credits.reload(); listed.reload(); };
  async function confirmRevoke() {
    try {
      await adminApi(`${path}/revoke`, { method: 'POST' });
      setRevoke({ asked: false, error: '' });
      reload();
    } catch (error) {
      setRevoke({ asked: false, error: error.message });
    }
  }
  const ledger = credits.data ? [...credits.data.ledger].reverse() : [];
  return html`
    <section class="panel" aria-labelledby="key-title">
      <p><${Link} href="/console/admin/keys" navigate=${navigate}>← All keys<//></p>
      <h2 id="key-title" class="mono">${key ? `${key.name || '(no name)'} · ${id}` : id}</h2>
      ${credits.error || listed.error ? html`<p class="form-error" role="alert">${credits.error || listed.error}</p>` : null}
      ${key ? html`
        <dl class="facts">
          <dt>available</dt><dd id="key-page-available">${credits.data ? credits.data.credits_available : key.credits_available}</dd>
          <dt>reserved</dt><dd>${credits.data ? credits.data.credits_reserved : key.credits_reserved}</dd>
          <dt>group</dt><dd>${key.user_group}</dd>
          <dt>limits</dt><dd>${key.rpm || 'any'} requests/min · ${key.max_concurrent || 'any'} at once</dd>
          <dt>created</dt><dd>${when(key.created)}</dd>
          <dt>state</dt><dd>${key.revoked ? 'revoked' : 'active'}</dd>
        </dl>` : listed.error ? null : listed.data === null ? html`<p class="muted">Loading…</p>`
                                  : html`<p class="form-error" role="alert">There is no key ${id}.</p>`}
      ${key && !key.revoked ? html`<${CreditsForm} keyId=${id} onChanged=${reload} />` : null}
      ${key && !key.revoked ? html`<p>${revoke.asked
        ? html`<button type="button" class="danger" onClick=${confirmRevoke}>Revoke it: it stops working at once</button>
               <button type="button" class="secondary" onClick=${() => setRevoke({ asked: false, error: '' })}>Keep it</button>`
        : html`<button type="button" class="danger" onClick=${() => setRevoke({ asked: true, error: '' })}>Revoke…</button>`}</p>` : null}
      ${revoke.error ? html`<p class="form-error" role="alert">${revoke.error}</p>` : null}
      <h3>Ledger</h3>
      <div class="table-wrap">
        <table class="data ledger">
          <thead><tr><th scope="col">#</th><th scope="col">when</th><th scope="col">kind</th>
            <th scope="col" class="num">amount</th><th scope="col">task</th><th scope="col">note</th></tr></thead>
          <tbody>${ledger.map((entry) => html`
            <tr key=${entry.seq}><td>${entry.seq}</td><td>${when(entry.created)}</td><td>${entry.kind}</td>
              <td class="num">${entry.amount}</td><td class="mono">${entry.task_id || ''}</td><td>${entry.note || ''}</td></tr>`)}
          </tbody>
        </table>
      </div>
    </section>`;
}
