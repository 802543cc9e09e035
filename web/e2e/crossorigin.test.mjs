// The SDK on another origin than Gatehouse (an app at one port, Gatehouse
// at another, allowed by --cors-origins): CORS with credentials, the
// preflight for the CSRF guard header, and the refresh cookie, in Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { PASSWORD, cleanupScratch, launchChromium, registerUser, startGatehouse, uniqueEmail, watch } from './harness.mjs';

const sdkDir = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'packages', 'client', 'dist');

const page = `<!doctype html><meta charset="utf-8"><title>third-party app</title>
<script type="module">
  import { createAuthClient } from '/sdk/index.js';
  const gatehouse = new URLSearchParams(location.search).get('gatehouse');
  window.auth = createAuthClient({ baseUrl: gatehouse, storage: 'cookie' });
  window.ready = true;
</script>`;

/** appServer serves the test page and the built SDK on its own loopback port. */
function appServer() {
  const srv = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(page);
    }
    if (url.pathname.startsWith('/sdk/')) {
      const file = normalize(join(sdkDir, url.pathname.slice(5)));
      if (file.startsWith(sdkDir)) {
        try {
          const body = await readFile(file);
          res.writeHead(200, { 'Content-Type': 'text/javascript' });
          return res.end(body);
        } catch {
          // fall through to 404
        }
      }
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, origin: `http://127.0.0.1:${srv.address().port}` })));
}

let allowed;
let foreign;
let gh;
let browser;

before(async () => {
  allowed = await appServer();
  foreign = await appServer();
  gh = await startGatehouse('--access-ttl', '2s', '--cors-origins', allowed.origin);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  allowed?.srv.close();
  foreign?.srv.close();
  cleanupScratch();
});

async function open(app) {
  const context = await browser.newContext();
  const w = watch(context);
  const p = await context.newPage();
  await p.goto(`${app.origin}/?gatehouse=${encodeURIComponent(gh.url)}`);
  await p.waitForFunction(() => window.ready === true);
  return { context, p, w };
}

describe('the SDK on another origin', () => {
  it('works from an origin in --cors-origins: login, refresh with the cookie, requests, logout', async () => {
    const email = uniqueEmail('cors');
    await registerUser(gh.url, email);
    const { context, p, w } = await open(allowed);
    const result = await p.evaluate(
      async ({ email, password }) => {
        const user = await window.auth.login(email, password);
        const before = window.auth.accessToken;
        await window.auth.refresh();
        const me = await window.auth.fetch('/api/users/me');
        const after = window.auth.accessToken;
        await window.auth.logout();
        let refreshAfterLogout;
        try {
          await window.auth.refresh();
          refreshAfterLogout = 'succeeded';
        } catch (e) {
          refreshAfterLogout = `${e.status} ${e.code}`;
        }
        return { email: user.email, rotated: before !== after, me: me.status, status: window.auth.getSnapshot().status, refreshAfterLogout };
      },
      { email, password: PASSWORD },
    );
    assert.deepEqual(result, { email, rotated: true, me: 200, status: 'unauthenticated', refreshAfterLogout: '401 refresh_token_invalid' });
    // The refresh and logout went out with the guard header (after a CORS
    // preflight that allowed it) and the cookie, never with the token in the body.
    // (Chromium does not show preflights to the page's observers; the
    // server's request log does.)
    assert.match(gh.logs(), /method=OPTIONS path=\/api\/auth\/refresh .*status=204/, 'no CORS preflight for the guarded refresh');
    const refresh = w.to('/api/auth/refresh', 'POST')[0];
    assert.equal(refresh.req.headers()['x-csrf-guard'], '1');
    assert.doesNotMatch(refresh.req.postData() ?? '', /refresh_token/);
    const res = await refresh.req.response();
    assert.equal(res.status(), 200);
    assert.equal((await res.allHeaders())['access-control-allow-origin'], allowed.origin);
    await context.close();
  });

  it('is refused from an origin that is not allowed', async () => {
    const email = uniqueEmail('foreign');
    await registerUser(gh.url, email);
    const { context, p } = await open(foreign);
    const outcome = await p.evaluate(
      async ({ email, password }) => {
        try {
          await window.auth.login(email, password);
          return 'logged in';
        } catch (e) {
          return e.code;
        }
      },
      { email, password: PASSWORD },
    );
    // The browser blocks the answer: no CORS headers for this origin.
    assert.equal(outcome, 'network_error');
    assert.equal((await context.cookies()).filter((c) => c.name === 'gatehouse_refresh').length, 0);
    await context.close();
  });
});
