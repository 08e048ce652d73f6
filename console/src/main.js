// main.js — the console's shell: sign-in with an API key or the admin token (each kept in this tab's
// sessionStorage only), the routes — the user view (/console: the form and the task list;
// /console/tasks/<id>: a task; /console/balance: the balance and credits per day) and the operator view
// (/console/admin…, operator.js) — and one live stream of the key's task events that keeps the user view
// current.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, adminApi, adminSession, api, followTaskEvents, isAdminToken, session } from './api.js';
import { SubmitForm } from './form.js';
import { html } from './html.js';
import { Operator, isOperatorPath } from './operator.js';
import { Link, TaskList, TaskPage, requests } from './tasks.js';
import { BalancePage } from './usage.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const LIST_LIMIT = 50;
const ADMIN_CHECK = '/admin/v1/tasks/summary';

// One field for either secret, told apart by its prefix: rla_… is the admin token (the operator view),
// anything else an API key. onUser(balance) or onAdmin() once the server accepted it.
function SignIn({ onUser, onAdmin, operator }) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError('');
    const text = secret.trim();
    const admin = isAdminToken(text);
    (admin ? adminSession : session).signIn(text);
    try {
      if (admin) {
        await adminApi(ADMIN_CHECK);
        onAdmin();
      } else {
        onUser(await api('/v1/balance'));
      }
    } catch (failure) {
      (admin ? adminSession : session).signOut();
      const refused = failure instanceof ApiError && (failure.status === 401 || failure.status === 403);
      setError(refused ? `This ${admin ? 'admin token' : 'key'} is not valid.` : failure.message);
    } finally {
      setBusy(false);
    }
  }
  return html`
    <main class="sign-in">
      <h1>reelay console</h1>
      <form onSubmit=${submit} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">${operator ? 'Sign in as the operator' : 'Sign in'}</h2>
        <div class="field">
          <label for="api-key">API key or admin token</label>
          <input id="api-key" type="password" autocomplete="off" spellcheck="false" required value=${secret}
                 aria-describedby="api-key-help" onInput=${(event) => setSecret(event.target.value)} />
          <p class="hint" id="api-key-help">An API key (sk-…) opens your tasks; the admin token (rla_…) opens
            the operator view. Kept in this tab only (session storage) and sent as an Authorization header;
            closing the tab forgets it.</p>
        </div>
        ${error ? html`<p class="form-error" role="alert">${error}</p>` : null}
        <button type="submit" disabled=${busy || secret.trim() === ''}>Sign in</button>
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

function Console({ initialBalance, onSignOut, path, navigate, hasAdmin }) {
  const [balance, setBalance] = useState(initialBalance);
  const [models, setModels] = useState(null);
  const [modelsError, setModelsError] = useState('');
  const [tasks, setTasks] = useState({}); // every task seen, by id
  const [listIds, setListIds] = useState([]);
  const [filters, setFilters] = useState({ status: '', model: '' });
  const [listState, setListState] = useState({ loading: true, error: '', live: '' });
  const [pageError, setPageError] = useState('');

  const remember = (task) => setTasks((all) => ({ ...all, [task.id]: { ...all[task.id], ...task } }));
  const refreshBalance = () => api('/v1/balance').then(setBalance, () => {});

  useEffect(() => {
    api('/v1/models').then((answer) => setModels(answer.data), (error) => setModelsError(error.message));
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

  const onBalancePage = path === '/console/balance' || path === '/console/balance/';
  const listed = listIds.map((id) => tasks[id]).filter((task) => task && matches(task, filters))
                        .sort((a, b) => b.created - a.created);
  return html`
    <header class="top">
      <${Link} href="/console" navigate=${navigate} class="brand">reelay console<//>
      <${Link} href="/console/balance" navigate=${navigate} class="balance" aria-live="polite">
        <span class="muted">credits</span> <strong id="balance-available">${balance.credits_available}</strong>
        ${balance.credits_reserved ? html` <span class="muted">(${balance.credits_reserved} reserved)</span>` : null}
      <//>
      ${hasAdmin ? html`<${Link} href="/console/admin" navigate=${navigate}>Operator view<//>` : null}
      <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
    </header>
    <main class=${openId || onBalancePage ? 'one-column' : 'two-columns'}>
      ${onBalancePage ? html`<${BalancePage} balance=${balance} onRefresh=${refreshBalance} />`
      : openId !== null
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
  const [path, setPath] = useState(location.pathname);
  const [balance, setBalance] = useState(null); // the API key's, once accepted
  const [admin, setAdmin] = useState(false); // whether the admin token was accepted
  const [checking, setChecking] = useState(Boolean(session.key() || adminSession.token()));
  const navigate = (href) => {
    history.pushState(null, '', href);
    setPath(new URL(href, location.href).pathname);
    window.scrollTo(0, 0);
  };
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    const checks = [];
    if (session.key()) checks.push(api('/v1/balance').then(setBalance, () => session.signOut()));
    if (adminSession.token())
      checks.push(adminApi(ADMIN_CHECK).then(() => setAdmin(true), () => adminSession.signOut()));
    Promise.all(checks).finally(() => setChecking(false));
    return () => removeEventListener('popstate', onPop);
  }, []);
  const operator = isOperatorPath(path);
  const signedInUser = (accepted) => {
    setBalance(accepted);
    if (operator) navigate('/console');
  };
  const signedInAdmin = () => {
    setAdmin(true);
    if (!operator) navigate('/console/admin');
  };
  const signOut = () => {
    session.signOut();
    setBalance(null);
  };
  const signOutAdmin = () => {
    adminSession.signOut();
    setAdmin(false);
  };
  if (checking) return html`<main><p class="muted">Signing in…</p></main>`;
  if (operator && admin)
    return html`<${Operator} path=${path} navigate=${navigate} onSignOut=${signOutAdmin} hasUserKey=${Boolean(balance)} />`;
  if (!operator && balance)
    return html`<${Console} initialBalance=${balance} onSignOut=${signOut} path=${path} navigate=${navigate} hasAdmin=${admin} />`;
  return html`<${SignIn} onUser=${signedInUser} onAdmin=${signedInAdmin} operator=${operator} />`;
}

render(html`<${App} />`, document.getElementById('app'));
