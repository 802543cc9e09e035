// /api/docs in Chromium, offline: every request to any host other than the
// server is aborted, and the reference must still render the description
// (Swagger UI inline in the page, the description from /api/openapi.json),
// with no Content Security Policy violation and no page error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupScratch, launchChromium, screenshot, startGatehouse, watch } from './harness.mjs';

let gh;
let browser;

before(async () => {
  gh = await startGatehouse();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  cleanupScratch();
});

describe('/api/docs', () => {
  it('renders the API reference offline under its CSP', async () => {
    const context = await browser.newContext();
    const seen = watch(context);
    const server = new URL(gh.url).host;
    const elsewhere = [];
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.host === server || u.protocol === 'data:') return route.continue();
      elsewhere.push(u.href);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    const resp = await page.goto(`${gh.url}/api/docs`);
    assert.equal(resp.status(), 200);
    const csp = resp.headers()['content-security-policy'];
    assert.match(csp, /script-src 'sha256-/);
    assert.doesNotMatch(csp, /unsafe-eval|https?:/);

    // Operation titles (summaries) of a user route and an admin route.
    await page.getByText('Log in with email and password').first().waitFor({ timeout: 15_000 });
    await page.getByText('Search users').first().waitFor();
    assert.ok(await page.getByText('/api/admin/users/{id}/sessions').first().isVisible());
    await screenshot(page, 'api-docs');

    assert.deepEqual(elsewhere, [], 'the page asked another host');
    assert.deepEqual(seen.problems, [], 'CSP violations or page errors');
    assert.ok(seen.to('/api/openapi.json', 'GET').length > 0, 'the description was not fetched');
    await context.close();
  });
});
