// form.js — the submit form, generated from GET /v1/models: a field per model field with its type,
// rules, default and description; the quote before submitting; uploads dropped (or picked) into URL
// fields; the API's errors shown at the field its `param` names.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, uploadFile } from './api.js';
import { html } from './html.js';

const QUOTE_DELAY_MS = 350;

export function fieldId(name) {
  return `field-${name}`;
}

function label(name) {
  return name.replace(/_/g, ' ');
}

function shown(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// The field's rules in words: "required · one of 4, 8 · default 4".
export function fieldRules(field) {
  const rules = [field.required ? 'required' : 'optional'];
  if (field.enum) rules.push(`one of ${field.enum.map(shown).join(', ')}`);
  if (field.minimum != null && field.maximum != null) rules.push(`from ${field.minimum} to ${field.maximum}`);
  else if (field.minimum != null) rules.push(`at least ${field.minimum}`);
  else if (field.maximum != null) rules.push(`at most ${field.maximum}`);
  if (field.min_length != null) rules.push(`at least ${field.min_length} characters`);
  if (field.max_length != null) rules.push(`at most ${field.max_length} characters`);
  if (field.type.endsWith('_array')) {
    rules.push('one per line');
    if (field.max_items != null) rules.push(`at most ${field.max_items}`);
  }
  if (field.default != null) rules.push(`default ${shown(field.default)}`);
  return rules.join(' · ');
}

// The JSON body of a submission from the form's values: empty fields are left out (the API applies
// its defaults), numbers are sent as numbers when they are numbers (as typed otherwise: the API says
// what is wrong), a checkbox only when it differs from its default.
export function requestBody(model, values) {
  const body = { model: model.id };
  for (const field of model.fields) {
    if (field.name === 'model' || !(field.name in values)) continue;
    const value = values[field.name];
    if (field.type === 'boolean') {
      if (value !== (field.default ?? false)) body[field.name] = value;
      continue;
    }
    if (String(value).trim() === '') continue;
    if (field.type === 'integer' || field.type === 'number') {
      const number = Number(value);
      body[field.name] = Number.isFinite(number) ? number : value;
    } else if (field.type.endsWith('_array')) {
      body[field.name] = String(value).split('\n').map((line) => line.trim()).filter(Boolean);
    } else {
      body[field.name] = value;
    }
  }
  return body;
}

// The form field an error's param names: the field itself, one of its aliases, or an item or member
// of it ("image_urls[0]", "model_params.seed"); null when none.
export function fieldForParam(model, param) {
  if (!param || !model) return null;
  for (const field of model.fields) {
    const names = [field.name, ...(field.aliases || [])];
    if (names.some((name) => param === name || param.startsWith(`${name}[`) || param.startsWith(`${name}.`)))
      return field.name;
  }
  return null;
}

function requiredFilled(model, values) {
  return model.fields.every((field) => field.name === 'model' || !field.required ||
                                       String(values[field.name] ?? '').trim() !== '');
}

function UploadZone({ field, onUploaded, children }) {
  const [state, setState] = useState({ busy: false, message: '', failed: false });
  const [over, setOver] = useState(false);
  const picker = useRef(null);
  async function upload(files) {
    for (const file of files) {
      setState({ busy: true, message: `Uploading ${file.name}…`, failed: false });
      try {
        const uploaded = await uploadFile(file);
        onUploaded(uploaded.url);
        setState({ busy: false, message: `Uploaded ${uploaded.filename} (${uploaded.size} bytes).`, failed: false });
      } catch (error) {
        setState({ busy: false, message: `Upload failed: ${error.message}`, failed: true });
        return;
      }
    }
  }
  const many = field.type === 'url_array';
  return html`
    <div class=${`upload-zone${over ? ' over' : ''}`}
         onDragOver=${(event) => { event.preventDefault(); setOver(true); }}
         onDragLeave=${() => setOver(false)}
         onDrop=${(event) => { event.preventDefault(); setOver(false); upload([...event.dataTransfer.files]); }}>
      ${children}
      <div class="upload-row">
        <button type="button" class="secondary" disabled=${state.busy}
                onClick=${() => picker.current && picker.current.click()}>Upload a file…</button>
        <span class="hint">or drop ${many ? 'files' : 'a file'} here</span>
        <input type="file" hidden ref=${picker} multiple=${many}
               aria-label=${`Upload a file for ${label(field.name)}`}
               onChange=${(event) => { upload([...event.target.files]); event.target.value = ''; }} />
      </div>
      <p class=${state.failed ? 'field-error' : 'hint'} role="status">${state.message}</p>
    </div>`;
}

function FieldInput({ field, value, onValue, describedBy, invalid }) {
  const id = fieldId(field.name);
  const common = { id, name: field.name, 'aria-describedby': describedBy, 'aria-invalid': invalid ? 'true' : 'false' };
  const placeholder = field.default != null ? `${shown(field.default)} (default)` : '';
  if (field.type === 'boolean') {
    const checked = value ?? (field.default ?? false);
    return html`<input type="checkbox" ...${common} checked=${checked}
                       onChange=${(event) => onValue(event.target.checked)} />`;
  }
  if (field.enum && field.type === 'string') {
    return html`
      <select ...${common} value=${value ?? ''} onChange=${(event) => onValue(event.target.value)}>
        <option value="">${field.default != null ? `${shown(field.default)} (default)` : field.required ? 'Choose…' : '—'}</option>
        ${field.enum.filter((option) => option !== field.default)
                    .map((option) => html`<option value=${option}>${option}</option>`)}
      </select>`;
  }
  if (field.type === 'integer' || field.type === 'number') {
    // numbers stay typed, their allowed values suggested: the API's own rule decides (and says why)
    const list = field.enum ? `${id}-values` : undefined;
    return html`
      <input type="number" ...${common} inputmode=${field.type === 'integer' ? 'numeric' : 'decimal'}
             step=${field.type === 'integer' ? '1' : 'any'} min=${field.minimum ?? undefined}
             max=${field.maximum ?? undefined} list=${list} placeholder=${placeholder} value=${value ?? ''}
             onInput=${(event) => onValue(event.target.value)} />
      ${list ? html`<datalist id=${list}>${field.enum.map((option) => html`<option value=${option} />`)}</datalist>` : null}`;
  }
  if (field.type.endsWith('_array') || field.name.endsWith('prompt') || (field.max_length ?? 0) > 256) {
    return html`<textarea ...${common} rows=${field.name.endsWith('prompt') ? 4 : 2}
                          maxlength=${field.max_length ?? undefined} placeholder=${placeholder}
                          value=${value ?? ''} onInput=${(event) => onValue(event.target.value)} />`;
  }
  return html`<input type=${field.type === 'url' ? 'url' : 'text'} ...${common} placeholder=${placeholder}
                     maxlength=${field.max_length ?? undefined} value=${value ?? ''}
                     onInput=${(event) => onValue(event.target.value)} />`;
}

function Field({ field, value, error, onValue }) {
  const id = fieldId(field.name);
  const describedBy = `${id}-help${error ? ` ${id}-error` : ''}`;
  let input = html`<${FieldInput} field=${field} value=${value} onValue=${onValue} describedBy=${describedBy}
                                   invalid=${Boolean(error)} />`;
  // media inputs take uploads; a callback URL is where reelay posts, not a file
  if ((field.type === 'url' || field.type === 'url_array') && !field.name.endsWith('callback_url')) {
    const onUploaded = (url) => onValue(field.type === 'url' ? url
      : [String(value ?? '').trim(), url].filter(Boolean).join('\n'));
    input = html`<${UploadZone} field=${field} onUploaded=${onUploaded}>${input}<//>`;
  }
  return html`
    <div class=${`field field-${field.type}${error ? ' has-error' : ''}`}>
      <label for=${id}>${label(field.name)}${field.required ? html`<span class="required" aria-hidden="true"> *</span>` : null}</label>
      ${input}
      <p class="hint" id=${`${id}-help`}>${field.description} <span class="rules">(${fieldRules(field)})</span></p>
      ${error ? html`<p class="field-error" id=${`${id}-error`} role="alert">${error}</p>` : null}
    </div>`;
}

function QuoteLine({ quote }) {
  if (quote.state === 'waiting') return html`<p class="quote muted">Fill in the required fields to see the price.</p>`;
  if (quote.state === 'loading') return html`<p class="quote muted">Pricing…</p>`;
  if (quote.state === 'error') return html`<p class="quote muted">No price: ${quote.message}</p>`;
  if (quote.state !== 'ready') return null;
  const q = quote.quote;
  const seconds = q.billable_seconds != null ? ` for ${q.billable_seconds} s` : '';
  return html`<p class="quote"><strong>${q.credits} credits</strong>${seconds}
    <span class="muted"> (${q.rule ? `${q.rule.rate} per ${q.rule.unit}` : ''}, group ${q.user_group})</span></p>`;
}

// The form for one of the models; onSubmitted(task, body) once the API admitted it.
export function SubmitForm({ models, onSubmitted }) {
  const [modelId, setModelId] = useState(() => (models.find((m) => m.id === 'sora-2') || models[0]).id);
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState('');
  const [quote, setQuote] = useState({ state: 'waiting' });
  const [submitting, setSubmitting] = useState(false);
  const formRef = useRef(null);
  const model = models.find((m) => m.id === modelId) || models[0];
  const fields = model.fields.filter((field) => field.name !== 'model');
  const body = useMemo(() => requestBody(model, values), [model, values]);

  function showError(error) {
    const name = fieldForParam(model, error.param);
    if (name) {
      setErrors({ [name]: error.message });
      setFormError('');
      const input = formRef.current && formRef.current.querySelector(`#${fieldId(name)}`);
      if (input) input.focus();
    } else {
      setFormError(error.message);
    }
  }

  useEffect(() => {
    if (!requiredFilled(model, values)) {
      setQuote({ state: 'waiting' });
      return undefined;
    }
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      setQuote({ state: 'loading' });
      try {
        const answer = await api('/v1/videos/generations/quote', { method: 'POST', body, signal: controller.signal });
        setQuote({ state: 'ready', quote: answer });
      } catch (error) {
        if (controller.signal.aborted) return;
        setQuote({ state: 'error', message: error.message });
        const name = fieldForParam(model, error.param);
        if (name) setErrors({ [name]: error.message });
      }
    }, QUOTE_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [body]);

  function setValue(name, value) {
    setValues((current) => ({ ...current, [name]: value }));
    setErrors((current) => (current[name] ? { ...current, [name]: undefined } : current));
  }

  async function submit(event) {
    event.preventDefault();
    setSubmitting(true);
    setFormError('');
    try {
      const task = await api('/v1/videos/generations', { method: 'POST', body, idempotencyKey: crypto.randomUUID() });
      setErrors({});
      onSubmitted(task, body);
    } catch (error) {
      showError(error);
    } finally {
      setSubmitting(false);
    }
  }

  const basic = fields.filter((field) => !field.advanced);
  const advanced = fields.filter((field) => field.advanced);
  const render = (field) => html`<${Field} key=${`${model.id}/${field.name}`} field=${field}
    value=${values[field.name]} error=${errors[field.name]} onValue=${(value) => setValue(field.name, value)} />`;
  return html`
    <form class="submit-form" ref=${formRef} onSubmit=${submit} noValidate aria-labelledby="submit-title">
      <h2 id="submit-title">New task</h2>
      <div class="field">
        <label for="field-model">model</label>
        <select id="field-model" aria-describedby="field-model-help" value=${model.id}
                onChange=${(event) => { setModelId(event.target.value); setValues({}); setErrors({}); setFormError(''); }}>
          ${models.map((m) => html`<option value=${m.id}>${m.id} — ${m.family.replace(/_/g, ' ')}</option>`)}
        </select>
        <p class="hint" id="field-model-help">${model.description} About ${model.estimated_time} s.</p>
      </div>
      ${basic.map(render)}
      ${advanced.length ? html`<details><summary>Advanced options (${advanced.length})</summary>${advanced.map(render)}</details>` : null}
      <${QuoteLine} quote=${quote} />
      ${formError ? html`<p class="form-error" role="alert">${formError}</p>` : null}
      <button type="submit" disabled=${submitting}>${submitting ? 'Submitting…' : 'Submit'}</button>
    </form>`;
}
