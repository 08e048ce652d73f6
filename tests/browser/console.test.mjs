// console.test.mjs — the web console (/console) in a real browser: Debian's chromium, driven by
// playwright-core (pinned in package-lock.json; no browser is downloaded). Run by
// tests/e2e/test_console.py, which starts the servers and passes
//   REELAY_URL, REELAY_KEY                the sandbox server (tasks run to completion)
//   REELAY_PAUSED_URL, REELAY_PAUSED_KEY  a server started with --engine-paused (tasks stay pending)
//   CHROMIUM (default /usr/bin/chromium), ARTIFACTS (default ./artifacts: screenshots at 390 and 1440 px)
// Every flow fails on any console error or page error (a CSP violation is one).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const BASE = process.env.REELAY_URL;
const KEY = process.env.REELAY_KEY;
const PAUSED_BASE = process.env.REELAY_PAUSED_URL;
const PAUSED_KEY = process.env.REELAY_PAUSED_KEY;
const ARTIFACTS = process.env.ARTIFACTS || join(import.meta.dirname, 'artifacts');
const WIDTHS = [390, 1440];
let browser;

before(async () => {
  assert.ok(BASE && KEY && PAUSED_BASE && PAUSED_KEY, 'REELAY_URL, REELAY_KEY, REELAY_PAUSED_URL and REELAY_PAUSED_KEY');
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
    if (message.type() === 'error') page.problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  return page;
}

// Closes the tab; fails on what the browser reported, except the answers with a status the flow
// provokes on purpose (chromium logs every 4xx fetch as "Failed to load resource: … status of 422 …").
async function closePage(page, expectedStatuses = []) {
  const provoked = (problem) => expectedStatuses.some((status) =>
    problem.startsWith('console: Failed to load resource: the server responded with a status of ' + status + ' '));
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
