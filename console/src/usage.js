// usage.js — the balance page: the key's credits (available, reserved, group) and a bar chart of the
// credits used per day over the last 30 days (GET /v1/usage/daily), with the same numbers as a table.
import { useEffect, useState } from 'preact/hooks';
import { api, isMissingRoute } from './api.js';
import { BarChart } from './chart.js';
import { html } from './html.js';

const DAYS = 30;

// The chart's bars from the answer's days (oldest first): [{label: "MM-DD", value: credits}]; a day
// the answer leaves out is not invented.
export function usageBars(answer) {
  return (answer?.data || []).map((day) => ({ label: String(day.date).slice(5), value: Number(day.credits) || 0 }));
}

export function BalancePage({ balance, onRefresh }) {
  const [usage, setUsage] = useState({ state: 'loading', answer: null, error: '' });
  useEffect(() => {
    onRefresh();
    api(`/v1/usage/daily?days=${DAYS}`).then(
      (answer) => setUsage({ state: 'ready', answer, error: '' }),
      (error) => setUsage({ state: isMissingRoute(error) ? 'missing' : 'error', answer: null, error: error.message }));
  }, []);
  const days = usage.answer ? usage.answer.data : [];
  const total = days.reduce((sum, day) => sum + (Number(day.credits) || 0), 0);
  const tasks = days.reduce((sum, day) => sum + (Number(day.tasks) || 0), 0);
  return html`
    <section class="panel" aria-labelledby="balance-title">
      <h2 id="balance-title">Balance</h2>
      <dl class="facts">
        <dt>available</dt><dd id="balance-page-available">${balance.credits_available} credits</dd>
        <dt>reserved</dt><dd>${balance.credits_reserved} credits <span class="muted">(held by unfinished tasks)</span></dd>
        <dt>price group</dt><dd>${balance.user_group}</dd>
      </dl>
      <h3 id="usage-title">Credits used per day</h3>
      ${usage.state === 'loading' ? html`<p class="muted">Loading…</p>` : null}
      ${usage.state === 'missing' ? html`<p class="muted" id="usage-missing">Daily usage is not available on this server.</p>` : null}
      ${usage.state === 'error' ? html`<p class="form-error" role="alert">${usage.error}</p>` : null}
      ${usage.state === 'ready' ? html`
        <p class="hint">${total} credits on ${tasks} task${tasks === 1 ? '' : 's'} in the last ${days.length} days.</p>
        <${BarChart} id="usage-chart" bars=${usageBars(usage.answer)} unit="credits"
                     title=${`Credits used per day, the last ${days.length} days`} />
        <details><summary>As a table</summary>
          <div class="table-wrap"><table class="data">
            <thead><tr><th scope="col">day</th><th scope="col" class="num">credits</th><th scope="col" class="num">tasks</th></tr></thead>
            <tbody>${days.map((day) => html`<tr key=${day.date}><td>${day.date}</td><td class="num">${day.credits}</td>
              <td class="num">${day.tasks}</td></tr>`)}</tbody>
          </table></div>
        </details>` : null}
    </section>`;
}
