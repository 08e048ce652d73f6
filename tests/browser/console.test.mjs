// console.test.mjs — the web console (/console) in a real browser: Debian's chromium, driven by
// playwright-core (pinned in package-lock.json; no browser is downloaded). Run by
// tests/e2e/test_console.py, which starts the servers and passes
//   REELAY_URL, REELAY_KEY                the sandbox server (tasks run to completion)
//   REELAY_ADMIN_TOKEN                    that server's admin token (the operator view)
//   REELAY_PAUSED_URL, REELAY_PAUSED_KEY  a server started with --engine-paused (tasks stay pending)
//   REELAY_MEDIA_VIDEO, _AUDIO, _IMAGE    tiny inputs served on loopback (conftest's media fixture),
//   REELAY_MEDIA_DIR                      and the folder they are in (files dropped onto the form)
//   CHROMIUM (default /usr/bin/chromium), ARTIFACTS (default ./artifacts: screenshots at 390 and 1440 px)
// Every flow fails on any console error or page error (a CSP violation is one).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const BASE = process.env.REELAY_URL;
const KEY = process.env.REELAY_KEY;
const PAUSED_BASE = process.env.REELAY_PAUSED_URL;
const PAUSED_KEY = process.env.REELAY_PAUSED_KEY;
const ADMIN_TOKEN = process.env.REELAY_ADMIN_TOKEN;
const MEDIA = {
  video: process.env.REELAY_MEDIA_VIDEO, audio: process.env.REELAY_MEDIA_AUDIO,
  image: process.env.REELAY_MEDIA_IMAGE, dir: process.env.REELAY_MEDIA_DIR,
};
const ARTIFACTS = process.env.ARTIFACTS || join(import.meta.dirname, 'artifacts');
const WIDTHS = [390, 1440];
let browser;

before(async () => {
  assert.ok(BASE && KEY && PAUSED_BASE && PAUSED_KEY && ADMIN_TOKEN,
            'REELAY_URL, REELAY_KEY, REELAY_ADMIN_TOKEN, REELAY_PAUSED_URL and REELAY_PAUSED_KEY');
  assert.ok(MEDIA.video && MEDIA.audio && MEDIA.image && MEDIA.dir, 'REELAY_MEDIA_VIDEO, _AUDIO, _IMAGE and _DIR');
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A fresh tab (its own session storage) that records every console error and page error.
async function openPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console: ${message.text()} at ${message.location().url}`);
  });
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  return page;
}

const FAILED_LOAD = 'console: Failed to load resource: the server responded with a status of ';

// Closes the tab; fails on what the browser reported, except the answers with a status the flow
// provokes on purpose (chromium logs every 4xx fetch as "Failed to load resource: … status of 422 …").
async function closePage(page, expectedStatuses = []) {
  const provoked = (problem) => expectedStatuses.some((status) => problem.startsWith(`${FAILED_LOAD}${status} `));
  const problems = page.problems.filter((problem) => !provoked(problem));
  await page.context().close();
  assert.deepEqual(problems, [], 'the browser reported errors');
}

// Screenshots of the page as it is, at each width, then back to 1440 px.
async function shoot(page, name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForTimeout(100);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1440, height: 900 });
}

async function signIn(page, base, key) {
  await page.goto(`${base}/console`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#field-prompt').waitFor();
}

test('sign in: a wrong key is refused, the right one shows the balance and the form', async () => {
  const page = await openPage();
  await page.goto(`${BASE}/console/some/deep/link`); // any path below /console is the app
  await page.getByLabel('API key').fill('sk-not-a-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'This key is not valid.' }).waitFor();
  await shoot(page, 'sign-in-refused');
  await page.getByLabel('API key').fill(KEY);
  await page.keyboard.press('Enter'); // by keyboard
  await page.locator('#field-prompt').waitFor();
  const balance = Number(await page.locator('#balance-available').textContent());
  assert.ok(balance > 0, `balance ${balance}`);
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookies');
  assert.ok(await page.evaluate(() => sessionStorage.getItem('reelay.key')), 'the key is in session storage');
  // the form comes from GET /v1/models: sora-2's fields, each with a label
  assert.equal(await page.locator('#field-model').inputValue(), 'sora-2');
  for (const name of ['prompt', 'duration', 'resolution', 'aspect_ratio'])
    assert.equal(await page.locator(`label[for="field-${name}"]`).count(), 1, name);
  await shoot(page, 'signed-in');
  await closePage(page, [401]); // the wrong key's GET /v1/balance
});

test('submit sora-2 through the form, watch it reach 100 % live, and play the video', async () => {
  const page = await openPage();
  await signIn(page, BASE, KEY);
  await page.locator('#field-prompt').fill('a lighthouse in the fog');
  await page.locator('#field-duration').fill('8');
  // the quote, before submitting: 8 s of sora-2
  await page.locator('.quote strong').filter({ hasText: '800 credits' }).waitFor();
  await shoot(page, 'submit-form');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForURL(/\/console\/tasks\/task-/);
  // what the page shows as it changes, recorded in the page: the task page reads the task once, then
  // every change comes over the events stream
  await page.evaluate(() => {
    window.seenProgress = [];
    const note = () => {
      const text = document.querySelector('#task-progress')?.textContent;
      if (text && window.seenProgress.at(-1) !== text) window.seenProgress.push(text);
    };
    note();
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.waitForFunction(() => document.querySelector('#task-progress')?.textContent === '100 %', null,
                             { timeout: 60000 });
  const seen = await page.evaluate(() => window.seenProgress);
  assert.ok(seen.length >= 2 && seen[0] !== '100 %', `progress seen: ${seen}`);
  assert.match(await page.locator('.facts .status').textContent(), /completed/);
  // the video really plays: muted, from this origin's signed link
  const video = page.locator('video');
  assert.match(await video.getAttribute('src'), /^\/v1\/files\/results\/.+\?expires=/);
  assert.ok(await video.getAttribute('poster'), 'a poster');
  await video.evaluate((element) => { element.muted = true; return element.play(); });
  await page.waitForFunction(() => {
    const element = document.querySelector('video');
    return element.readyState >= 2 && element.duration > 0 && element.currentTime > 0;
  }, null, { timeout: 20000 });
  assert.equal(Math.round(await video.evaluate((element) => element.duration)), 8);
  await video.evaluate((element) => element.pause());
  // the spritesheet loaded, the curl command submits the same body
  await page.waitForFunction(() => document.querySelector('img.spritesheet')?.naturalWidth > 0);
  const curl = await page.locator('pre.curl').textContent();
  assert.match(curl, /\/v1\/videos\/generations/);
  assert.match(curl, /"prompt":"a lighthouse in the fog"/);
  assert.match(curl, /"duration":8/);
  assert.doesNotMatch(curl, new RegExp(KEY), 'the key is not printed');
  await shoot(page, 'task-completed');
  // back to the list (a link, by keyboard): the task is there, completed
  const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  await page.getByRole('link', { name: '← All tasks' }).focus();
  await page.keyboard.press('Enter');
  await page.locator(`.task-row[data-task="${id}"] .status-completed`).waitFor();
  assert.equal(new URL(page.url()).pathname, '/console');
  await shoot(page, 'task-list');
  await closePage(page);
});

test('a validation error is shown at its field (duration 7)', async () => {
  const page = await openPage();
  await signIn(page, BASE, KEY);
  await page.locator('#field-prompt').fill('a cat');
  await page.locator('#field-duration').fill('7');
  await page.getByRole('button', { name: 'Submit' }).click();
  const error = page.locator('#field-duration-error');
  await error.waitFor();
  assert.match(await error.textContent(), /duration must be one of 4, 8, 12, 16, 20/);
  assert.equal(await page.locator('#field-duration').getAttribute('aria-invalid'), 'true');
  assert.match(page.url(), /\/console$/, 'nothing was submitted');
  await shoot(page, 'validation-error');
  // fixing the field clears its error
  await page.locator('#field-duration').fill('4');
  await error.waitFor({ state: 'detached' });
  await closePage(page, [422]); // the quote's and the submission's answers to duration 7
});

test('cancel a pending task', async () => {
  const page = await openPage();
  await signIn(page, PAUSED_BASE, PAUSED_KEY);
  await page.locator('#field-prompt').fill('never started');
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForURL(/\/console\/tasks\/task-/);
  await page.locator('.facts .status-pending').waitFor();
  await shoot(page, 'cancel-pending');
  await page.getByRole('button', { name: 'Cancel task' }).click();
  await page.locator('.facts .status-cancelled').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Cancel task' }).count(), 0);
  // the server agrees
  const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  const task = await (await fetch(`${PAUSED_BASE}/v1/tasks/${id}`, { headers: { Authorization: `Bearer ${PAUSED_KEY}` } })).json();
  assert.equal(task.status, 'cancelled');
  await shoot(page, 'cancelled');
  await closePage(page);
});

// Drops a file of the media folder onto a URL field's upload zone (as a user dragging it there) and
// waits for the uploaded file's link to fill the field.
async function dropFile(page, field, name, type) {
  const bytes = readFileSync(join(MEDIA.dir, name)).toString('base64');
  const dataTransfer = await page.evaluateHandle(({ bytes, name, type }) => {
    const data = Uint8Array.from(atob(bytes), (char) => char.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], name, { type }));
    return transfer;
  }, { bytes, name: basename(name), type });
  const zone = page.locator(`.upload-zone:has(#field-${field})`);
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
  await page.waitForFunction((id) => document.getElementById(id).value.includes('/v1/files/'), `field-${field}`);
}

// From the list page: picks the model, fills its fields (fill(page)), submits and waits for 100 %.
async function submitAndFinish(page, model, fill) {
  await page.getByRole('link', { name: 'reelay console' }).click();
  await page.locator('#field-model').selectOption(model);
  await fill(page);
  await page.locator('.quote strong').waitFor(); // the price, before submitting
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.waitForURL(/\/console\/tasks\/task-/);
  await page.waitForFunction(() => document.querySelector('#task-progress')?.textContent === '100 %', null,
                             { timeout: 90000 });
  assert.match(await page.locator('.facts .status').textContent(), /completed/, model);
  assert.equal(await page.locator('.facts dd').first().textContent(), model);
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
}

test('submit lip-sync, talking head and motion control through the form (files dropped and URLs)', async () => {
  const page = await openPage();
  await signIn(page, BASE, KEY);
  // lip-sync: the video by URL (a loopback media server), the audio dropped onto its field
  await submitAndFinish(page, 'lipsync-2', async () => {
    await page.locator('#field-video_url').fill(MEDIA.video);
    await dropFile(page, 'audio_url', basename(MEDIA.audio), 'audio/wav');
  });
  assert.ok(await page.locator('video').getAttribute('src'), 'a lip-synced video');
  await shoot(page, 'lipsync-completed');
  // talking head: the portrait dropped, the audio by URL
  await submitAndFinish(page, 'creatify-aurora', async () => {
    await dropFile(page, 'image_url', basename(MEDIA.image), 'image/png');
    await page.locator('#field-audio_url').fill(MEDIA.audio);
  });
  await shoot(page, 'talking-head-completed');
  // motion control: both by URL
  const id = await submitAndFinish(page, 'kling-v2-6-motion-control', async () => {
    await page.locator('#field-image_url').fill(MEDIA.image);
    await page.locator('#field-video_url').fill(MEDIA.video);
  });
  const video = page.locator('video');
  await video.evaluate((element) => { element.muted = true; return element.play(); });
  await page.waitForFunction(() => document.querySelector('video').readyState >= 2, null, { timeout: 20000 });
  await shoot(page, 'motion-control-completed');

  // the same task read afresh (this tab's copy of the request forgotten): the curl that recreates it
  // comes from GET …/request, the callback's state from GET …/callback
  await page.evaluate((taskId) => sessionStorage.removeItem(`reelay.request.${taskId}`), id);
  await page.reload();
  await page.locator('#task-progress').filter({ hasText: '100 %' }).waitFor();
  await page.locator('#callback-state:not([data-state="loading"])').waitFor();
  await page.getByRole('heading', { name: 'Submit it again with curl' }).waitFor();
  const curl = await page.locator('pre.curl').textContent();
  assert.match(curl, /\/v1\/videos\/generations/);
  assert.match(curl, /"model":"kling-v2-6-motion-control"/);
  assert.ok(curl.includes(JSON.stringify(MEDIA.image)), curl);
  assert.equal(await page.locator('#callback-state').getAttribute('data-state'), 'none');
  assert.match(await page.locator('#callback-state').textContent(), /without a callback_url/);
  await shoot(page, 'task-read-afresh');

  // the balance page: a bar per day, today's (the last) with the credits these tasks used
  await page.locator('a.balance').click();
  await page.getByRole('heading', { name: 'Credits used per day' }).waitFor();
  const bars = page.locator('#usage-chart rect.bar');
  await bars.first().waitFor({ state: 'attached' }); // a day with no credits is a bar of height 0
  assert.equal(await bars.count(), 30);
  assert.ok(Number(await bars.last().getAttribute('data-value')) > 0, 'credits used today');
  assert.ok(Number(await bars.last().getAttribute('height')) > 0, 'a visible bar for today');
  await shoot(page, 'balance');
  await closePage(page);
});

test('operator: create a key with credits and use it; disable and re-enable a channel; the live view', async () => {
  const page = await openPage();
  await page.goto(`${BASE}/console`);
  await page.getByLabel('API key or admin token').fill(ADMIN_TOKEN);
  await page.keyboard.press('Enter'); // the rla_ prefix opens the operator view
  await page.waitForURL(/\/console\/admin$/);
  await page.getByRole('heading', { name: 'Keys' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('reelay.admin')), ADMIN_TOKEN);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('reelay.key')), null, 'no API key kept');
  await page.locator('.keys-table tbody tr').first().waitFor(); // the first key, made by init
  await shoot(page, 'operator-keys');

  // create a key with credits and a limit: its secret is shown once
  await page.getByLabel('name', { exact: true }).fill('browser team');
  await page.getByLabel('credits', { exact: true }).fill('4321');
  await page.getByLabel('requests per minute').fill('60');
  await page.getByRole('button', { name: 'Create the key' }).click();
  const newKey = (await page.locator('#new-key').textContent()).trim();
  assert.match(newKey, /^sk-/);
  const id = /Key (\S+) created/.exec(await page.locator('#new-key-title').textContent())[1];
  await page.locator(`tr[data-key="${id}"] .key-available`).filter({ hasText: /^4321$/ }).waitFor();
  await shoot(page, 'operator-key-created');
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('#new-key').waitFor({ state: 'detached' });
  assert.equal(await page.getByText(newKey).count(), 0, 'the key is not shown again');

  // its page: take back 321 credits; the ledger says so
  await page.locator(`tr[data-key="${id}"] a`).click();
  await page.locator('#key-page-available').filter({ hasText: /^4321$/ }).waitFor();
  await page.getByLabel('amount').fill('-321');
  await page.getByLabel('note').fill('taken back in the browser');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('#key-page-available').filter({ hasText: /^4000$/ }).waitFor();
  await page.locator('.ledger td').filter({ hasText: 'taken back in the browser' }).waitFor();
  await shoot(page, 'operator-key');

  // the sandbox channel: disable it, its health row says so (and the server agrees), enable it again
  await page.getByRole('link', { name: 'Channels' }).click();
  const row = page.locator('tr[data-channel="sandbox"]');
  await row.locator('.channel-enabled').filter({ hasText: 'enabled' }).waitFor();
  assert.match(await row.locator('.channel-circuit').textContent(), /closed/);
  await page.getByRole('button', { name: 'Disable sandbox' }).click();
  await row.locator('.channel-enabled').filter({ hasText: 'disabled' }).waitFor();
  const health = await (await fetch(`${BASE}/admin/v1/channels/health`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
  assert.equal(health.channels.find((channel) => channel.name === 'sandbox').enabled, false);
  await shoot(page, 'operator-channel-disabled');
  await page.getByRole('button', { name: 'Enable sandbox' }).click();
  await row.locator('.channel-enabled').filter({ hasText: /^enabled$/ }).waitFor();

  // the live view: the tasks of the flows above, by state and model, read every 2 s
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.locator('#tasks-total').waitFor();
  assert.ok(Number(await page.locator('#tasks-total').textContent()) > 0);
  await page.locator('tr[data-model="sora-2"]').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#throughput-chart rect.bar').length >= 2, null,
                             { timeout: 10000 }); // a second reading, 2 s later
  await shoot(page, 'operator-activity');
  await page.getByRole('link', { name: 'Credits audit' }).click();
  await page.getByRole('button', { name: 'Run the audit' }).click();
  assert.equal(await page.locator('#audit-result').textContent(), 'Everything adds up.');

  // the new key in the user view, with its balance
  await page.getByRole('link', { name: 'Sign in with a key' }).click();
  await page.getByLabel('API key or admin token').fill(newKey);
  await page.keyboard.press('Enter');
  await page.locator('#balance-available').filter({ hasText: /^4000$/ }).waitFor();
  await page.getByRole('link', { name: 'Operator view' }).waitFor(); // both are kept, each in its own entry
  await shoot(page, 'operator-new-key-user-view');
  await closePage(page);
});
