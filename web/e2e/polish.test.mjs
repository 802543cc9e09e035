// The demo app on a phone and for a visitor (issue 15): at 390 × 844 no
// page scrolls sideways, a long unbroken title wraps, a signed-out page load
// makes no request that fails and logs no error, a protected page says why
// it shows the login form, and /account changes the name and the password.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, cleanupScratch, launchChromium, loginThroughUI, registerUser, screenshot, startGatehouse, uniqueEmail, watch } from './harness.mjs';

const PHONE = { width: 390, height: 844 };

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

/**
 * phone opens a fresh profile at 390 × 844 that records every console
 * error, failed request and HTTP error answer, besides what watch records.
 */
async function phone() {
  const context = await browser.newContext({ viewport: PHONE });
  const w = watch(context);
  const errors = [];
  context.on('page', (p) => {
    p.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
  });
  context.on('requestfailed', (req) => errors.push(`failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  context.on('response', (res) => {
    if (res.status() >= 400) errors.push(`${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  const page = await context.newPage();
  return { context, page, w, errors };
}

/** widths returns how wide the document is against the viewport. */
function widths(page) {
  return page.evaluate(() => ({
    scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    inner: window.innerWidth,
  }));
}

async function assertFits(page, what) {
  const { scroll, inner } = await widths(page);
  assert.ok(scroll <= inner, `${what}: scrollWidth ${scroll} > innerWidth ${inner}`);
}

// Every page a visitor can reach, with the heading that shows it rendered.
const PUBLIC_PAGES = [
  ['/login', 'Log in'],
  ['/register', 'Create an account'],
  ['/settings', 'Settings'],
  ['/forgot-password', null],
  ['/reset-password', null],
  ['/verify-email', null],
  ['/confirm-email', null],
  ['/no-such-page', null],
];

describe('the demo app on a 390 px phone', () => {
  it('signed out: every page fits, loads with no failed request and no console error', async () => {
    for (const [path, heading] of PUBLIC_PAGES) {
      const { context, page, w, errors } = await phone();
      await page.goto(`${gh.url}${path}`);
      if (heading) await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      else await page.getByRole('heading', { level: 1 }).first().waitFor();
      await page.getByText('Not signed in').waitFor();
      await page.waitForLoadState('networkidle');
      await assertFits(page, `${path} signed out`);
      assert.deepEqual(errors, [], `${path}: errors on a signed-out load`);
      assert.deepEqual(w.to('/api/auth/refresh'), [], `${path}: a signed-out load tried a refresh`);
      assert.deepEqual(w.problems, [], `${path}: CSP violations or page errors`);
      await screenshot(page, `phone-signed-out${path.replaceAll('/', '-')}`);
      await context.close();
    }
  });

  it('signed out: the navigation offers only what a visitor can use', async () => {
    const { context, page } = await phone();
    await page.goto(`${gh.url}/login`);
    await page.getByText('Not signed in').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = await nav.getByRole('link').allTextContents();
    assert.deepEqual(links, ['Log in', 'Create account', 'Settings']);
    await context.close();
  });

  it('signed out: a protected page shows the login form and says why', async () => {
    for (const path of ['/dashboard', '/sessions', '/account', '/security']) {
      const { context, page, errors } = await phone();
      await page.goto(`${gh.url}${path}`);
      await page.waitForURL(`${gh.url}/login?next=${encodeURIComponent(path)}`);
      await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
      await page.getByText('Log in to see that page.').waitFor();
      await page.waitForLoadState('networkidle');
      assert.deepEqual(errors, [], `${path}: errors on a signed-out visit`);
      await context.close();
    }
    // Asked for nothing in particular: no reason to give.
    const { context, page } = await phone();
    await page.goto(`${gh.url}/`);
    await page.waitForURL(`${gh.url}/login`);
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    assert.equal(await page.getByText('Log in to see that page.').count(), 0);
    await context.close();
  });

  it('signed in: every page fits, and a post with a very long unbroken title wraps', async () => {
    const { context, page, w } = await phone();
    const email = uniqueEmail('phone');
    await registerUser(gh.url, email, 'Bartholomew Featherstonehaugh-Cholmondeley');
    await loginThroughUI(page, gh.url, email);

    const title = 'W'.repeat(200);
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Body').fill('x'.repeat(300));
    await page.getByRole('button', { name: 'Publish' }).click();
    const heading = page.getByRole('heading', { name: title, level: 3 });
    await heading.waitFor();
    const box = await heading.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `title box ${JSON.stringify(box)} leaves the viewport`);
    assert.ok(box.height > 40, `the title did not wrap onto several lines (height ${box?.height})`);
    await assertFits(page, '/dashboard with a long title');
    await screenshot(page, 'phone-dashboard-long-title');

    for (const [path, name] of [
      ['/sessions', 'Sessions'],
      ['/account', 'Account'],
      ['/security', 'Security'],
      ['/settings', 'Settings'],
    ]) {
      await page.getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { name, level: 1 }).waitFor();
      await page.waitForLoadState('networkidle');
      await assertFits(page, `${path} signed in`);
      await screenshot(page, `phone-signed-in${path.replaceAll('/', '-')}`);
    }
    const links = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    assert.deepEqual(links, ['Dashboard', 'Sessions', 'Account', 'Security', 'Settings']);
    assert.deepEqual(w.problems, []);
    await context.close();
  });

  it('/account changes the password; the old one is refused afterwards', async () => {
    const { context, page, w } = await phone();
    const email = uniqueEmail('chpw');
    const fresh = 'a brand new passphrase';
    await registerUser(gh.url, email);
    await loginThroughUI(page, gh.url, email);
    await page.getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    const form = page.getByRole('form', { name: 'Change password' });

    await form.getByLabel('Current password').fill('not my password');
    await form.getByLabel('New password').fill(fresh);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByText('The current password is not correct.').waitFor();

    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByLabel('New password').fill(fresh);
    await form.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password has been changed.').waitFor();
    assert.equal(w.to('/api/auth/password', 'POST').length, 2);
    // This session stays signed in.
    await page.getByText('Signed in as').waitFor();

    const login = (password) =>
      fetch(`${gh.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
    const old = await login(PASSWORD);
    assert.equal(old.status, 401, 'the old password still logs in');
    assert.equal((await login(fresh)).status, 200, 'the new password does not log in');

    // And through the form, signed out.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(new URL(page.url()).pathname, '/login');
    await context.close();
  });

  it('/account changes the name: it shows everywhere and after a reload; a 101-character name is refused', async () => {
    const { context, page, w } = await phone();
    const email = uniqueEmail('profile');
    await registerUser(gh.url, email, 'Old Name');
    await loginThroughUI(page, gh.url, email);
    const header = page.getByRole('banner');
    await header.getByText('Old Name', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    const form = page.getByRole('form', { name: 'Profile' });
    const name = form.getByLabel('Name');
    assert.equal(await name.inputValue(), 'Old Name', 'the Name field is not prefilled');

    await name.fill('Grace Hopper');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByText('Saved.', { exact: true }).waitFor();
    await header.getByText('Grace Hopper', { exact: true }).waitFor();
    assert.equal(w.to('/api/users/me', 'PATCH').length, 1);

    // The server kept it: a reload (start-up asks GET /api/users/me) shows it.
    await page.reload();
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    await header.getByText('Grace Hopper', { exact: true }).waitFor();
    assert.equal(await form.getByLabel('Name').inputValue(), 'Grace Hopper');
    assert.equal(await form.getByText('Saved.').count(), 0);

    // One character too many: the server's field message, and nothing changes.
    await form.getByLabel('Name').fill('n'.repeat(101));
    await form.getByRole('button', { name: 'Save' }).click();
    const problem = form.locator('#profile-name-error');
    await problem.waitFor();
    assert.match(await problem.textContent(), /100/);
    assert.equal(await form.getByLabel('Name').getAttribute('aria-invalid'), 'true');
    assert.equal(await form.getByText('Saved.').count(), 0);
    await assertFits(page, '/account with a refused name');
    await screenshot(page, 'phone-account-name-refused');
    await header.getByText('Grace Hopper', { exact: true }).waitFor();

    await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByRole('main').getByText('Grace Hopper', { exact: true }).waitFor();
    assert.deepEqual(w.problems, []);
    await context.close();
  });
});
