// admin_channels.js — the operator's channels: each with its masked credential, enabled or not, and its
// health (circuit, tasks in flight, the last hour's success rate and median time), read again every
// few seconds; enable and disable buttons.
import { useState } from 'preact/hooks';
import { adminApi } from './api.js';
import { html } from './html.js';
import { usePolling } from './poll.js';

const HEALTH_POLL_MS = 5000;

// The channels list joined with their health by name: [{...channel, health}] (health null when the
// health answer does not name the channel, e.g. just added).
export function joinChannelHealth(channels, health) {
  const byName = new Map((health?.channels || []).map((entry) => [entry.name, entry]));
  return (channels || []).map((channel) => ({ ...channel, health: byName.get(channel.name) || null }));
}

// A success rate (0–1 or null) in words: "97 %" or "—".
export function percent(rate) {
  return rate == null ? '—' : `${Math.round(rate * 100)} %`;
}

async function loadChannels() {
  const [channels, health] = await Promise.all([adminApi('/admin/v1/channels'), adminApi('/admin/v1/channels/health')]);
  return { rows: joinChannelHealth(channels.data, health), health };
}

function ChannelRow({ channel, onChanged }) {
  const [state, setState] = useState({ busy: false, error: '' });
  const health = channel.health;
  const recent = health ? health.recent : null;
  async function toggle() {
    setState({ busy: true, error: '' });
    const action = channel.enabled ? 'disable' : 'enable';
    try {
      await adminApi(`/admin/v1/channels/${encodeURIComponent(channel.name)}/${action}`, { method: 'POST' });
      setState({ busy: false, error: '' });
      onChanged();
    } catch (error) {
      setState({ busy: false, error: error.message });
    }
  }
  const enabled = health ? health.enabled : channel.enabled;
  return html`
    <tr data-channel=${channel.name}>
      <th scope="row">${channel.name}</th>
      <td data-label="provider">${channel.provider}</td>
      <td class="mono" data-label="credential">${channel.credential}</td>
      <td class="channel-models" data-label="models">${channel.models}</td>
      <td class="channel-enabled" data-label="enabled"><span class=${`status ${enabled ? 'status-completed' : 'status-cancelled'}`}>${enabled ? 'enabled' : 'disabled'}</span></td>
      <td class="channel-circuit" data-label="circuit"><span><span class=${`status circuit-${health ? health.circuit : 'unknown'}`}>${health ? health.circuit.replace('_', ' ') : '—'}</span>
        ${health && health.throttled ? html` <span class="status status-pending">throttled</span>` : null}</span></td>
      <td class="num" data-label="in flight">${health ? health.in_flight : '—'}</td>
      <td class="num" data-label="success"><span>${recent ? percent(recent.success_rate) : '—'}
        ${recent ? html`<span class="muted"> (${recent.completed}/${recent.completed + recent.failed})</span>` : null}</span></td>
      <td class="num" data-label="median">${recent && recent.median_seconds != null ? `${recent.median_seconds} s` : '—'}</td>
      <td data-label=""><span>
        <button type="button" class=${channel.enabled ? 'secondary' : ''} disabled=${state.busy} onClick=${toggle}
                aria-label=${`${channel.enabled ? 'Disable' : 'Enable'} ${channel.name}`}>${channel.enabled ? 'Disable' : 'Enable'}</button>
        ${state.error ? html`<p class="field-error" role="alert">${state.error}</p>` : null}
      </span></td>
    </tr>`;
}

export function ChannelsPanel() {
  const channels = usePolling(loadChannels, HEALTH_POLL_MS);
  const rows = channels.data ? channels.data.rows : [];
  const hours = channels.data ? Math.round(channels.data.health.recent_seconds / 3600) : 1;
  return html`
    <section class="panel" aria-labelledby="channels-title">
      <h2 id="channels-title">Channels</h2>
      <p class="hint">Health is read again every ${HEALTH_POLL_MS / 1000} s. Success rate and median time: the tasks
        finished in the last ${hours === 1 ? 'hour' : `${hours} hours`}. The circuit is this node's.</p>
      ${channels.error ? html`<p class="form-error" role="alert">${channels.error}</p>` : null}
      ${!channels.data && !channels.error ? html`<p class="muted">Loading…</p>` : null}
      <div class="table-wrap">
        <table class="data stack channels-table">
          <thead><tr><th scope="col">name</th><th scope="col">provider</th><th scope="col">credential</th>
            <th scope="col">models</th><th scope="col">enabled</th><th scope="col">circuit</th>
            <th scope="col" class="num">in flight</th><th scope="col" class="num">success</th>
            <th scope="col" class="num">median</th><th scope="col"><span class="visually-hidden">action</span></th></tr></thead>
          <tbody>${rows.map((channel) => html`<${ChannelRow} key=${channel.name} channel=${channel} onChanged=${channels.reload} />`)}</tbody>
        </table>
      </div>
    </section>`;
}
