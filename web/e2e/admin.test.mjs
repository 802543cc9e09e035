// Operators (CONTRACT §9) in Chromium against the real server: an admin
// made with the CLI finds a user on /admin by part of their email and
// disables them; the user's tab, open since before, is signed out on its
// next request and the user cannot log in again until the admin enables
// them. A user who is not an admin sees no Admin link and is told
// "Administrators only" at /admin; the last admin cannot drop their role.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, cleanupScratch, eventually, launchChromium, loginThroughUI, registerUser, screenshot, startGatehouse, uniqueEmail, watch } from './harness.mjs';

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

async function newContext() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const w = watch(context);
  const page = await context.newPage();
  return { context, page, w };
}

async function loginForm(page, email) {
  await page.goto(`${gh.url}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

describe('operators in the browser', () => {
  it('an admin finds and disables a user, whose open tab is signed out and who cannot log in until enabled again', async () => {
    const adminEmail = uniqueEmail('admin');
    await gh.cli(['user', 'create', '--email', adminEmail, '--name', 'Grace Admin', '--password-stdin', '--admin'], `${PASSWORD}\n`);
    const tag = `victim${Date.now().toString(36)}`;
    const victimEmail = uniqueEmail(tag);
    await registerUser(gh.url, victimEmail, 'Vic Tim');
    for (let i = 0; i < 3; i++) await registerUser(gh.url, uniqueEmail('other'), `Other ${i}`);

    // The user signs in first and keeps the tab open; no Admin link for them.
    const v = await newContext();
    await loginThroughUI(v.page, gh.url, victimEmail);
    const nav = v.page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Security' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Admin' }).count(), 0);

    // The admin finds them by part of their email and opens them.
    const a = await newContext();
    await loginThroughUI(a.page, gh.url, adminEmail);
    await a.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await a.page.getByRole('heading', { name: 'Admin', level: 1 }).waitFor();
    await a.page.getByTestId('user-table').waitFor();
    await a.page.getByLabel('Search users').fill(tag.toUpperCase());
    await a.page.getByRole('button', { name: 'Search', exact: true }).click();
    await a.page.waitForURL(`${gh.url}/admin?q=${tag.toUpperCase()}`);
    const rows = a.page.getByTestId('user-table').locator('tbody tr');
    await eventually(async () => (await rows.count()) === 1, 'the search to find the one user');
    await rows.first().getByRole('link', { name: victimEmail }).waitFor();
    const row = await rows.first().innerText();
    assert.match(row, /Vic Tim/);
    assert.match(row, /Active/);
    await screenshot(a.page, 'admin-01-search');
    await rows.first().getByRole('link', { name: victimEmail }).click();
    await a.page.getByRole('heading', { name: victimEmail, level: 2 }).waitFor();
    await a.page.getByTestId('user-status').getByText('Active').waitFor();
    assert.notEqual((await a.page.getByTestId('user-sessions').textContent()).trim(), '0');
    await a.page.getByRole('button', { name: 'Disable' }).click();
    await a.page.getByTestId('user-status').getByText('Disabled').waitFor();
    await a.page.getByRole('status').getByText(/is disabled/).waitFor();
    assert.equal((await a.page.getByTestId('user-sessions').textContent()).trim(), '0');
    await a.page.getByTestId('user-events').getByText('Account disabled by an administrator').waitFor();
    await screenshot(a.page, 'admin-02-user-disabled');

    // The user's open tab: its next request is refused, and it lands on the login page saying so.
    await v.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
    await v.page.waitForURL(new RegExp(`^${gh.url}/login`));
    await v.page.getByText('Your session has ended. Please log in again.').waitFor();
    // Logging in again is refused, in words.
    await loginForm(v.page, victimEmail);
    await v.page.getByRole('alert').getByText(/disabled/).waitFor();
    assert.match(v.page.url(), /\/login/);

    // Enabled again, they can log in, and their own activity shows what happened.
    await a.page.getByRole('button', { name: 'Enable' }).click();
    await a.page.getByTestId('user-status').getByText('Active').waitFor();
    await loginForm(v.page, victimEmail);
    await v.page.waitForURL(`${gh.url}/dashboard`);
    await v.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).click();
    const activity = v.page.getByTestId('security-activity');
    await activity.getByText('Account disabled by an administrator').waitFor();
    await activity.getByText('Signed in').first().waitFor();
    await screenshot(v.page, 'admin-03-security-activity');

    // The last admin cannot stop being one: said in words.
    await a.page.getByRole('link', { name: /All users/ }).click();
    await a.page.getByLabel('Search users').fill(adminEmail);
    await a.page.getByRole('button', { name: 'Search', exact: true }).click();
    await a.page.getByRole('link', { name: adminEmail }).click();
    await a.page.getByRole('button', { name: 'Remove admin' }).click();
    await a.page.getByRole('alert').getByText(/last administrator/).waitFor();
    await a.page.getByTestId('user-role').getByText('Administrator').waitFor();

    assert.deepEqual([...a.w.problems, ...v.w.problems], [], 'no CSP violation or page error');
    await a.context.close();
    await v.context.close();
  });

  it('a user who is not an admin sees no Admin link, and /admin says Administrators only', async () => {
    const email = uniqueEmail('plain');
    await registerUser(gh.url, email, 'Plain User');
    const u = await newContext();
    await loginThroughUI(u.page, gh.url, email);
    assert.equal(await u.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).count(), 0);
    await u.page.goto(`${gh.url}/admin`);
    await u.page.getByRole('heading', { name: 'Administrators only', level: 1 }).waitFor();
    assert.equal(await u.page.getByLabel('Search users').count(), 0);
    // Nor does the server answer them: 403 forbidden with their own token.
    const login = await fetch(`${gh.url}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
    const { access_token: token } = await login.json();
    const res = await fetch(`${gh.url}/api/admin/users`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, 'forbidden');
    assert.deepEqual(u.w.problems, []);
    await u.context.close();
  });

  it('a user made admin with set-role sees the Admin link after logging in again', async () => {
    const email = uniqueEmail('promoted');
    await registerUser(gh.url, email, 'Promoted User');
    await gh.cli(['user', 'set-role', '--email', email, '--role', 'admin']);
    const p = await newContext();
    await loginThroughUI(p.page, gh.url, email);
    await p.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await p.page.getByTestId('user-table').getByRole('link', { name: email }).waitFor();
    await screenshot(p.page, 'admin-04-users');
    assert.deepEqual(p.w.problems, []);
    await p.context.close();
  });
});
