// main.js — the console's shell: sign-in with a key (kept in this tab's sessionStorage only), the
// balance, the routes (/console: the form and the task list; /console/tasks/<id>: a task), and one
// live stream of the key's task events that keeps every view current.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, followTaskEvents, session } from './api.js';
import { SubmitForm } from './form.js';
import { html } from './html.js';
import { Link, TaskList, TaskPage, requests } from './tasks.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const LIST_LIMIT = 50;

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError('');
    session.signIn(key.trim());
    try {
      onSignedIn(await api('/v1/balance'));
    } catch (failure) {
      session.signOut();
      setError(failure instanceof ApiError && failure.status === 401 ? 'This key is not valid.' : failure.message);
    } finally {
      setBusy(false);
    }
  }
  return html`
    <main class="sign-in">
      <h1>reelay console</h1>
      <form onSubmit=${submit} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        <div class="field">
          <label for="api-key">API key</label>
          <input id="api-key" type="password" autocomplete="off" spellcheck="false" required value=${key}
                 aria-describedby="api-key-help" onInput=${(event) => setKey(event.target.value)} />
          <p class="hint" id="api-key-help">Kept in this tab only (session storage) and sent as an
            Authorization header; closing the tab forgets it.</p>
        </div>
        ${error ? html`<p class="form-error" role="alert">${error}</p>` : null}
        <button type="submit" disabled=${busy || key.trim() === ''}>Sign in</button>
      </form>
    </main>`;
}

function taskPath(path) {
  const match = /^\/console\/tasks\/([^/]+)\/?$/.exec(path);
  return match ? decodeURIComponent(match[1]) : null;
}

function matches(task, filters) {
  return (!filters.status || task.status === filters.status) && (!filters.model || task.model === filters.model);
}

function Console({ initialBalance, onSignOut }) {
  const [path, setPath] = useState(location.pathname);
  const [balance, setBalance] = useState(initialBalance);
  const [models, setModels] = useState(null);
  const [modelsError, setModelsError] = useState('');
  const [tasks, setTasks] = useState({}); // every task seen, by id
  const [listIds, setListIds] = useState([]);
  const [filters, setFilters] = useState({ status: '', model: '' });
  const [listState, setListState] = useState({ loading: true, error: '', live: '' });
  const [pageError, setPageError] = useState('');

  const navigate = (href) => {
    history.pushState(null, '', href);
    setPath(new URL(href, location.href).pathname);
    window.scrollTo(0, 0);
  };
  const remember = (task) => setTasks((all) => ({ ...all, [task.id]: { ...all[task.id], ...task } }));
  const refreshBalance = () => api('/v1/balance').then(setBalance, () => {});

  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    api('/v1/models').then((answer) => setModels(answer.data), (error) => setModelsError(error.message));
    return () => removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    const query = new URLSearchParams({ limit: String(LIST_LIMIT) });
    if (filters.status) query.set('status', filters.status);
    if (filters.model) query.set('model', filters.model);
    setListState((state) => ({ ...state, loading: true, error: '' }));
    api(`/v1/tasks?${query}`, { signal: controller.signal }).then((answer) => {
      setTasks((all) => Object.fromEntries([...Object.entries(all), ...answer.data.map((task) => [task.id, task])]));
      setListIds(answer.data.map((task) => task.id));
      setListState((state) => ({ ...state, loading: false }));
    }, (error) => {
      if (!controller.signal.aborted) setListState((state) => ({ ...state, loading: false, error: error.message }));
    });
    return () => controller.abort();
  }, [filters]);

  useEffect(() => {
    const controller = new AbortController();
    const onTask = (task) => {
      remember(task);
      if (matches(task, filters)) setListIds((ids) => (ids.includes(task.id) ? ids : [task.id, ...ids]));
      if (TERMINAL.has(task.status)) refreshBalance();
    };
    const onState = (live) => {
      if (live === 'unauthorized') onSignOut();
      else setListState((state) => ({ ...state, live }));
    };
    followTaskEvents(onTask, onState, controller.signal);
    return () => controller.abort();
  }, [filters]);

  const openId = taskPath(path);
  useEffect(() => {
    setPageError('');
    if (openId === null) return;
    api(`/v1/tasks/${encodeURIComponent(openId)}`).then(remember, (error) => setPageError(error.message));
  }, [openId]);

  function submitted(task, body) {
    requests.remember(task.id, body);
    remember(task);
    setListIds((ids) => [task.id, ...ids.filter((id) => id !== task.id)]);
    refreshBalance();
    navigate(`/console/tasks/${task.id}`);
  }

  const listed = listIds.map((id) => tasks[id]).filter((task) => task && matches(task, filters))
                        .sort((a, b) => b.created - a.created);
  return html`
    <header class="top">
      <${Link} href="/console" navigate=${navigate} class="brand">reelay console<//>
      <span class="balance" aria-live="polite">
        <span class="muted">credits</span> <strong id="balance-available">${balance.credits_available}</strong>
        ${balance.credits_reserved ? html` <span class="muted">(${balance.credits_reserved} reserved)</span>` : null}
      </span>
      <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
    </header>
    <main class=${openId ? 'one-column' : 'two-columns'}>
      ${openId !== null
        ? html`<${TaskPage} id=${openId} task=${tasks[openId]} loadError=${pageError} navigate=${navigate} onChanged=${remember} />`
        : html`
          <section class="panel">
            ${models ? html`<${SubmitForm} models=${models} onSubmitted=${submitted} />`
                     : html`<p class=${modelsError ? 'form-error' : 'muted'}>${modelsError || 'Loading the models…'}</p>`}
          </section>
          <section class="panel">
            <${TaskList} tasks=${listed} filters=${filters} setFilters=${setFilters} models=${models || []}
                         state=${listState} navigate=${navigate} />
          </section>`}
    </main>`;
}

function App() {
  const [balance, setBalance] = useState(null);
  const [checking, setChecking] = useState(Boolean(session.key()));
  useEffect(() => {
    if (!session.key()) return;
    api('/v1/balance').then(setBalance, () => session.signOut()).finally(() => setChecking(false));
  }, []);
  const signOut = () => {
    session.signOut();
    setBalance(null);
  };
  if (checking) return html`<main><p class="muted">Signing in…</p></main>`;
  if (!balance) return html`<${SignIn} onSignedIn=${setBalance} />`;
  return html`<${Console} initialBalance=${balance} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
