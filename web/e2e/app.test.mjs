// Seed 000's lifecycle, section by section, in Debian's Chromium against the
// real Go server (2 s access tokens), plus the cross-tab guarantees of the
// SDK: three tabs at expiry make one refresh call, and logout in one tab
// signs out the others. Screenshots of each page go to web/e2e/output/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  PASSWORD,
  chooseStorage,
  cleanupScratch,
  eventually,
  launchChromium,
  loginThroughUI,
  registerUser,
  screenshot,
  sleep,
  startGatehouse,
  uniqueEmail,
  watch,
} from './harness.mjs';

const ACCESS_TTL_MS = 2000;
// Gatehouse verifies exp with up to 5 s of leeway (CONTRACT §3).
const LEEWAY_MS = 5000;

let gh;
let browser;

before(async () => {
  gh = await startGatehouse('--access-ttl', '2s');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  cleanupScratch();
});

/** newContext is a fresh browser profile: its own cookies and storage. */
async function newContext() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const w = watch(context);
  const page = await context.newPage();
  return { context, page, w };
}

function assertNoProblems(w) {
  assert.deepEqual(w.problems, [], 'CSP violations or page errors');
}

describe('seed 000 in the browser', () => {
  it('registration: the form creates the account, then logs in automatically', async () => {
    const { context, page, w } = await newContext();
    const email = uniqueEmail('register');
    await page.goto(`${gh.url}/register`);
    await page.getByLabel('Name').fill('Ada Lovelace');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await screenshot(page, '01-register');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(`${gh.url}/dashboard`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByText(email).waitFor();
    assert.equal(w.to('/api/auth/register', 'POST').length, 1);
    assert.equal(w.to('/api/auth/login', 'POST').length, 1, 'auto-login after registration');
    // The refresh token is only in the HttpOnly cookie, never in page storage.
    const cookies = await context.cookies();
    const rt = cookies.find((c) => c.name === 'gatehouse_refresh');
    assert.ok(rt, 'refresh cookie set');
    assert.equal(rt.httpOnly, true);
    assert.equal(rt.sameSite, 'Strict');
    assert.equal(rt.path, '/api/auth');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(rt.value), 'refresh token in web storage');
    await screenshot(page, '02-dashboard');

    // A second registration with the same email is refused, visibly.
    const other = await context.newPage();
    await other.goto(`${gh.url}/register`);
    await other.getByLabel('Email').fill(email);
    await other.getByLabel('Password').fill(PASSWORD);
    await other.getByRole('button', { name: 'Register' }).click();
    // The other tab is signed in (shared cookie), so the page may move on to
    // the dashboard; when it stays, it must show the conflict.
    await eventually(
      async () => other.url().endsWith('/dashboard') || (await other.getByRole('alert').count()) > 0,
      'a visible answer to a duplicate registration',
    );
    assertNoProblems(w);
    await context.close();
  });

  it('login: a protected page sends a visitor to /login and back after logging in', async () => {
    const email = uniqueEmail('login');
    await registerUser(gh.url, email, 'Grace Hopper');
    const { context, page, w } = await newContext();
    await page.goto(`${gh.url}/sessions`);
    await page.waitForURL(/\/login\?next=%2Fsessions$/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
    await screenshot(page, '03-login-error');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL(`${gh.url}/sessions`);
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
    await page.getByRole('cell', { name: '127.0.0.1' }).first().waitFor();
    await page.getByText('This device').waitFor();
    await screenshot(page, '04-sessions');
    // An open redirect through ?next= is refused.
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.waitForURL(`${gh.url}/login`);
    await page.goto(`${gh.url}/login?next=${encodeURIComponent('//evil.example/')}`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL(`${gh.url}/dashboard`);
    assertNoProblems(w);
    await context.close();
  });

  it('authenticated request: the feed is read and written with the bearer token', async () => {
    const email = uniqueEmail('posts');
    await registerUser(gh.url, email, 'Alan Turing');
    const { context, page, w } = await newContext();
    await loginThroughUI(page, gh.url, email);
    await page.getByLabel('Title').fill('Hello from Chromium');
    await page.getByLabel('Body').fill('First post, written through the SDK.');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('heading', { name: 'Hello from Chromium' }).waitFor();
    const reads = w.to('/api/posts', 'GET');
    const writes = w.to('/api/posts', 'POST');
    assert.ok(reads.length >= 1 && writes.length === 1);
    for (const r of [...reads, ...writes]) assert.match(r.auth ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    await screenshot(page, '05-post-created');
    await page.getByRole('button', { name: 'Delete “Hello from Chromium”' }).click();
    await page.getByRole('heading', { name: 'Hello from Chromium' }).waitFor({ state: 'detached' });
    assert.equal(w.to('/api/posts/', 'DELETE').length, 0);
    assert.equal(w.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/api/posts/')).length, 1);
    assertNoProblems(w);
    await context.close();
  });

  it('silent refresh: tokens expire every 2 s and the user never notices', async () => {
    const email = uniqueEmail('silent');
    await registerUser(gh.url, email);
    const { context, page, w } = await newContext();
    await loginThroughUI(page, gh.url, email);
    const since = w.requests.length;
    await sleep(3 * ACCESS_TTL_MS);
    await page.getByLabel('Title').fill('Still here');
    await page.getByLabel('Body').fill('Three token lifetimes later.');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('heading', { name: 'Still here' }).waitFor();
    const refreshes = w.requests.slice(since).filter((r) => r.path === '/api/auth/refresh');
    assert.ok(refreshes.length >= 2, `expected proactive refreshes, saw ${refreshes.length}`);
    for (const r of refreshes) assert.equal((await r.req.response())?.status(), 200);
    assert.equal(page.url(), `${gh.url}/dashboard`);
    assert.equal(await page.getByRole('alert').count(), 0);
    assertNoProblems(w);
    await context.close();
  });

  it('silent refresh after a 401: an expired token is refreshed once and the request replayed', async () => {
    const email = uniqueEmail('reactive');
    await registerUser(gh.url, email);
    const { context, page, w } = await newContext();
    // Freeze the page's clock and timers: no proactive refresh can run, and
    // the SDK believes its token is fresh, so the server's 401 is the only
    // way it learns of the expiry (seed 000, "access token expiry").
    await page.clock.install();
    await loginThroughUI(page, gh.url, email);
    await page.getByRole('heading', { name: 'Posts' }).waitFor();
    await page.clock.pauseAt(Date.now() + 1000);
    await sleep(ACCESS_TTL_MS + LEEWAY_MS + 1000);
    const since = w.requests.length;
    await page.getByLabel('Title').fill('After expiry');
    await page.getByLabel('Body').fill('Sent with an expired token, replayed after one refresh.');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('heading', { name: 'After expiry' }).waitFor();
    const seen = w.requests.slice(since);
    const posts = seen.filter((r) => r.path === '/api/posts' && r.method === 'POST');
    const refreshes = seen.filter((r) => r.path === '/api/auth/refresh');
    assert.equal(refreshes.length, 1, 'one refresh');
    assert.equal(posts.length, 2, 'the request and its replay');
    const first = await posts[0].req.response();
    assert.equal(first.status(), 401);
    assert.equal((await first.json()).code, 'token_expired');
    assert.equal((await posts[1].req.response()).status(), 201);
    assert.notEqual(posts[0].auth, posts[1].auth);
    assertNoProblems(w);
    await context.close();
  });

  it('refresh token expiry: the session ends and the user is sent to /login', async () => {
    // A second server whose sessions last 6 s in all.
    const short = await startGatehouse('--access-ttl', '2s', '--session-ttl', '6s');
    try {
      const email = uniqueEmail('expiry');
      await registerUser(short.url, email);
      const { context, page, w } = await newContext();
      await loginThroughUI(page, short.url, email);
      await page.waitForURL(/\/login/, { timeout: 20_000 });
      await page.getByText('Your session has ended. Please log in again.').waitFor();
      const last = w.to('/api/auth/refresh').at(-1);
      const res = await last.req.response();
      assert.equal(res.status(), 401);
      // The browser drops the cookie when its Max-Age (the session's end)
      // passes, so the server either sees an expired token or none at all.
      assert.match((await res.json()).code, /^refresh_token_(expired|invalid)$/);
      const cookies = await context.cookies();
      assert.ok(!cookies.some((c) => c.name === 'gatehouse_refresh'), 'the dead refresh cookie is cleared');
      await screenshot(page, '06-session-expired');
      // Protected pages stay closed.
      await page.goto(`${short.url}/dashboard`);
      await page.waitForURL(/\/login\?next=%2Fdashboard$/);
      assertNoProblems(w);
      await context.close();
    } finally {
      await short.stop();
    }
  });

  it('logout: the server session ends and nothing is left in the browser', async () => {
    const email = uniqueEmail('logout');
    await registerUser(gh.url, email);
    const { context, page, w } = await newContext();
    await loginThroughUI(page, gh.url, email);
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.waitForURL(`${gh.url}/login`);
    await page.getByText('You have signed out.').waitFor();
    await screenshot(page, '07-logged-out');
    const logout = w.to('/api/auth/logout', 'POST');
    assert.equal(logout.length, 1);
    assert.equal((await logout[0].req.response()).status(), 204);
    assert.equal(logout[0].req.headers()['x-csrf-guard'], '1');
    assert.ok(!(await context.cookies()).some((c) => c.name === 'gatehouse_refresh'));
    assert.equal(await page.getByRole('button', { name: 'Log out', exact: true }).count(), 0);
    // A reload finds no session.
    await page.goto(`${gh.url}/dashboard`);
    await page.waitForURL(/\/login\?next=%2Fdashboard$/);
    assertNoProblems(w);
    await context.close();
  });

  it('app start-up: a reload validates the session with GET /api/users/me before showing anything', async () => {
    const email = uniqueEmail('startup');
    await registerUser(gh.url, email);
    const { context, page, w } = await newContext();
    await loginThroughUI(page, gh.url, email);
    const since = w.requests.length;
    await page.reload();
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    const order = w.requests
      .slice(since)
      .filter((r) => r.path.startsWith('/api/'))
      .map((r) => `${r.method} ${r.path}`);
    const me = order.indexOf('GET /api/users/me');
    const posts = order.indexOf('GET /api/posts');
    assert.ok(me >= 0, `no start-up validation in ${order}`);
    assert.ok(posts > me, `the dashboard loaded data before validation: ${order}`);

    // The session is ended elsewhere (logout everywhere from another login):
    // the next start-up must not trust the cookie.
    const api = await fetch(`${gh.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    }).then((r) => r.json());
    const out = await fetch(`${gh.url}/api/auth/logout-all`, { method: 'POST', headers: { Authorization: `Bearer ${api.access_token}` } });
    assert.equal(out.status, 204);
    await page.reload();
    await page.waitForURL(/\/login\?next=%2Fdashboard$/);
    assert.equal(await page.getByRole('heading', { name: 'Dashboard' }).count(), 0);
    assertNoProblems(w);
    await context.close();
  });
});

describe('token storage setting', () => {
  it('a ?storage= link changes nothing; the Settings page does, and signs out first', async () => {
    const email = uniqueEmail('setting');
    await registerUser(gh.url, email);
    const { context, page, w } = await newContext();
    // A link that asks for a weaker storage is ignored: the cookie transport stays.
    await page.goto(`${gh.url}/login?storage=localStorage`);
    await page.getByText('Token storage: cookie').waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.waitForURL(`${gh.url}/dashboard`);
    await page.reload();
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByText('Token storage: cookie').waitFor();
    const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    assert.doesNotMatch(kept, /accessToken|refreshToken|token-storage/, 'the link left a setting or tokens in localStorage');
    assert.ok((await context.cookies()).some((c) => c.name === 'gatehouse_refresh'), 'the refresh token is in the cookie');

    // The setting, made in the UI, applies to every tab of the browser.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    await screenshot(page, '10-settings');
    await page.getByRole('radio', { name: /^localStorage/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Token storage: localStorage').waitFor();
    assert.equal(w.to('/api/auth/logout', 'POST').length, 1, 'saving another storage signs out first');
    assert.ok(!(await context.cookies()).some((c) => c.name === 'gatehouse_refresh'), 'the old session’s cookie is gone');
    const other = await context.newPage();
    await other.goto(`${gh.url}/login`);
    await other.getByText('Token storage: localStorage').waitFor();
    // ...and back to the default.
    await chooseStorage(page, gh.url, 'cookie');
    await other.reload();
    await other.getByText('Token storage: cookie').waitFor();
    assertNoProblems(w);
    await context.close();
  });
});

for (const storage of ['cookie', 'localStorage']) describe(`several tabs (${storage} storage)`, () => {
  it('three tabs at each expiry make exactly one refresh call, and all use its token', async () => {
    const email = uniqueEmail('tabs');
    await registerUser(gh.url, email);
    const { context, page: first, w } = await newContext();
    await loginThroughUI(first, gh.url, email, storage);
    const tabs = [first];
    for (let i = 0; i < 2; i++) {
      const p = await context.newPage();
      await p.goto(`${gh.url}/dashboard`);
      await p.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
      tabs.push(p);
    }
    await tabs[2].getByText(`Token storage: ${storage}`).waitFor();
    await screenshot(tabs[2], `08-third-tab-${storage}`);
    // Watch a few expiries with all three tabs open.
    const since = w.requests.length;
    await sleep(4 * ACCESS_TTL_MS);
    const refreshes = w.requests.slice(since).filter((r) => r.path === '/api/auth/refresh');
    assert.ok(refreshes.length >= 3, `expected a refresh per expiry, saw ${refreshes.length}`);
    // One call per expiry: no two calls closer than half a token lifetime.
    for (let i = 1; i < refreshes.length; i++) {
      const gap = refreshes[i].at - refreshes[i - 1].at;
      assert.ok(gap > ACCESS_TTL_MS / 2, `two refresh calls ${gap} ms apart: ${refreshes.map((r) => r.at - since)}`);
    }
    for (const r of refreshes) {
      assert.equal((await r.req.response()).status(), 200);
      // cookie: the token travels only in the HttpOnly cookie; localStorage: in the body.
      assert.equal(/refresh_token/.test(r.req.postData() ?? ''), storage === 'localStorage');
    }

    // Every tab adopted the newest token: a request from each carries it.
    const before = w.requests.length;
    await Promise.all(tabs.map((p) => p.getByRole('link', { name: 'Sessions' }).click()));
    await Promise.all(tabs.map((p) => p.getByText('This device').waitFor()));
    const used = w.requests
      .slice(before)
      .filter((r) => r.path === '/api/auth/sessions')
      .map((r) => r.auth);
    assert.equal(used.length, 3);
    assert.equal(new Set(used).size, 1, 'the three tabs used different tokens');
    // ...and it is the newest one (or the one before, if another expiry
    // came while the pages loaded).
    const latest = [];
    for (const r of w.to('/api/auth/refresh').slice(-2)) latest.push(`Bearer ${(await (await r.req.response()).json()).access_token}`);
    assert.ok(latest.includes(used[0]), 'the tabs use a token no refresh returned lately');
    assertNoProblems(w);
    await context.close();
  });

  it('logging out in one tab signs out every tab', async () => {
    const email = uniqueEmail('tabsout');
    await registerUser(gh.url, email);
    const { context, page: first, w } = await newContext();
    await loginThroughUI(first, gh.url, email, storage);
    const others = [];
    for (let i = 0; i < 2; i++) {
      const p = await context.newPage();
      await p.goto(`${gh.url}/dashboard`);
      await p.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
      others.push(p);
    }
    await first.getByRole('button', { name: 'Log out', exact: true }).click();
    await first.waitForURL(`${gh.url}/login`);
    for (const p of others) {
      await p.waitForURL(/\/login/);
      // A tab whose own refresh raced the logout learns it from the
      // server's 401 session_revoked instead of the broadcast: either
      // notice is right, what matters is that no tab stays signed in.
      await p.getByText(/You were signed out in another tab\.|Your session has ended\./).waitFor();
    }
    await screenshot(others[1], `09-signed-out-elsewhere-${storage}`);
    const left = await others[0].evaluate(() => JSON.stringify({ ...localStorage }));
    assert.doesNotMatch(left, /access_token|refreshToken|accessToken/, 'tokens left in localStorage');
    assert.equal(w.to('/api/auth/logout', 'POST').length, 1, 'one logout call for all tabs');
    assertNoProblems(w);
    await context.close();
  });
});

describe('served by the Go binary', () => {
  it('every app route gets index.html with the strict CSP, assets are cached, and missing assets are 404', async () => {
    for (const p of ['/', '/login', '/register', '/dashboard', '/sessions', '/settings', '/no/such/route']) {
      const r = await fetch(gh.url + p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      const csp = r.headers.get('content-security-policy');
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      const html = await r.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'inline script');
      assert.doesNotMatch(html, /\sstyle=/, 'inline style');
    }
    const html = await (await fetch(`${gh.url}/`)).text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(js, 'the built app is embedded');
    const asset = await fetch(gh.url + js);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type'), /javascript/);
    assert.match(asset.headers.get('cache-control'), /immutable/);
    assert.equal((await fetch(`${gh.url}/assets/missing-123.js`)).status, 404);
  });
});
