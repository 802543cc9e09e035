// A duplicated tab with the sessionStorage strategy (issue 16), in Chromium
// against the real server. Duplicating a tab copies its sessionStorage,
// refresh token included; two tabs that each rotate their copy would trip
// reuse detection and log the user out with a false theft alarm. The copy
// must share the original's session instead, and take over when it closes.
//
// The server runs with the reuse grace turned off, so that any refresh with
// a retired token is answered refresh_token_reused at once, rather than
// being forgiven when the two tabs happen to refresh within the grace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupScratch, eventually, launchChromium, loginThroughUI, registerUser, screenshot, sleep, startGatehouse, uniqueEmail, watch } from './harness.mjs';

const ACCESS_TTL_MS = 2000;

let gh;
let browser;

before(async () => {
  gh = await startGatehouse('--access-ttl', '2s', '--reuse-grace', '0s');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  cleanupScratch();
});

/** duplicateTab opens a new tab that starts with a copy of page's sessionStorage, as the browser's "Duplicate" does. */
async function duplicateTab(context, page) {
  const entries = await page.evaluate(() => Object.entries(sessionStorage));
  const copy = await context.newPage();
  await copy.addInitScript((saved) => {
    try {
      if (location.protocol !== 'http:' || sessionStorage.getItem('e2e.duplicated')) return;
      for (const [k, v] of saved) sessionStorage.setItem(k, v);
      sessionStorage.setItem('e2e.duplicated', '1');
    } catch {
      // about:blank has no storage of its own
    }
  }, entries);
  await copy.goto(page.url());
  return copy;
}

/** refreshAnswers returns the status and problem code of each refresh call since index since. */
async function refreshAnswers(w, since) {
  const out = [];
  for (const r of w.requests.slice(since).filter((x) => x.path === '/api/auth/refresh')) {
    const res = await r.req.response();
    let code = null;
    if (res && res.status() !== 200) code = (await res.json().catch(() => ({}))).code ?? null;
    out.push({ at: r.at, status: res?.status() ?? 0, code });
  }
  return out;
}

describe('a duplicated tab (sessionStorage storage)', () => {
  it('shares the original’s session through several rotations, with no false theft alarm, and takes over when the original closes', async () => {
    const email = uniqueEmail('duplicate');
    await registerUser(gh.url, email);
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const w = watch(context);
    const original = await context.newPage();
    await loginThroughUI(original, gh.url, email, 'sessionStorage');
    await original.getByText('Token storage: sessionStorage').waitFor();

    const since = w.requests.length;
    const copy = await duplicateTab(context, original);
    await copy.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await copy.getByText(email).waitFor();
    const ids = await Promise.all([original, copy].map((p) => p.evaluate(() => sessionStorage.getItem('gatehouse.tab'))));
    assert.ok(ids[0] && ids[1], 'each tab has an id');
    assert.notEqual(ids[0], ids[1], 'the copy kept the original’s tab id');

    // Several token lifetimes with both tabs open.
    await sleep(4 * ACCESS_TTL_MS);
    let answers = await refreshAnswers(w, since);
    assert.ok(answers.length >= 3, `expected a refresh per expiry, saw ${answers.length}`);
    assert.deepEqual(
      answers.filter((a) => a.status !== 200),
      [],
      'a refresh failed (refresh_token_reused is the false theft alarm)',
    );
    // One call per expiry: the tabs do not each refresh.
    for (let i = 1; i < answers.length; i++) {
      const gap = answers[i].at - answers[i - 1].at;
      assert.ok(gap > ACCESS_TTL_MS / 2, `two refresh calls ${gap} ms apart`);
    }
    for (const p of [original, copy]) {
      await p.getByRole('link', { name: 'Sessions' }).click();
      await p.getByText('This device').waitFor();
    }
    // Both tabs hold the same, current refresh token.
    const held = await Promise.all([original, copy].map((p) => p.evaluate(() => JSON.parse(sessionStorage.getItem('gatehouse.tokens') ?? 'null')?.refreshToken)));
    assert.ok(held[0], 'the original holds a refresh token');
    assert.equal(held[0], held[1], 'the tabs hold different refresh tokens');
    await screenshot(copy, '11-duplicate-tab');

    // The original closes: the copy carries on alone. It closes between two
    // rotations, not during one: a tab closed while its refresh is in flight
    // takes the rotated token with it, and the copy's next refresh presents
    // the retired one. The default reuse grace forgives that (the server
    // hands back the current token); this server runs with the grace off.
    const rotated = await context.waitForEvent('response', {
      predicate: (r) => new URL(r.url()).pathname === '/api/auth/refresh' && r.status() === 200,
      timeout: 3 * ACCESS_TTL_MS,
    });
    const current = (await rotated.json()).refresh_token;
    const holds = (p) => p.evaluate(() => JSON.parse(sessionStorage.getItem('gatehouse.tokens') ?? 'null')?.refreshToken);
    await eventually(async () => (await holds(original)) === current && (await holds(copy)) === current, 'both tabs to hold the rotated token');
    await original.close();
    const later = w.requests.length;
    await sleep(3 * ACCESS_TTL_MS);
    await copy.getByRole('link', { name: 'Dashboard' }).click();
    await copy.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    answers = await refreshAnswers(w, later);
    assert.ok(answers.length >= 2, `the copy did not take over the refreshes (saw ${answers.length})`);
    assert.deepEqual(
      answers.filter((a) => a.status !== 200),
      [],
      'a refresh by the copy failed',
    );
    await eventually(async () => copy.url().endsWith('/dashboard'), 'the copy to stay signed in');
    assert.equal(await copy.getByText('Your session has ended').count(), 0);
    assert.deepEqual(w.problems, [], 'CSP violations or page errors');
    await context.close();
  });
});
