// Accounts by email (CONTRACT §7) in Chromium against the real server and a
// real SMTP server (internal/smtptest): the verification mail sent at
// registration, the password reset from the login page, the email change
// from the Account page, each followed from the mail's link, and login
// under --require-verified-email. The links carry their token in the
// fragment: the test also checks that no token ever reaches the server (its
// request log names every path) or stays in the address bar.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  PASSWORD,
  cleanupScratch,
  eventually,
  freePort,
  launchChromium,
  screenshot,
  startGatehouse,
  startSMTPTest,
  uniqueEmail,
  watch,
} from './harness.mjs';

const NEW_PASSWORD = 'a different passphrase entirely';

let gh;
let smtp;
let browser;

before(async () => {
  smtp = await startSMTPTest();
  // The links in the mails must lead to this server's own pages, so it has
  // to know its origin before it starts.
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  gh = await startGatehouse('--addr', `127.0.0.1:${port}`, '--app-url', origin, '--smtp-url', `smtp://${smtp.smtp}`);
  assert.equal(gh.url, origin);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  await smtp?.stop();
  cleanupScratch();
});

/**
 * linkFor waits for the mail to `to` whose text has a link to `page`, and
 * returns the link and its token. Mails are sent from an outbox, so they
 * arrive a moment after the request was answered.
 */
async function linkFor(to, page, base = gh.url) {
  const re = new RegExp(`(\\S+/${page}#token=([A-Za-z0-9_-]+))`);
  let found = null;
  await eventually(async () => {
    const mails = await smtp.messages();
    for (const m of mails) {
      const match = m.to.some((t) => t.includes(to)) ? re.exec(m.text) : null;
      if (match) found = { mail: m, link: match[1], token: match[2] };
    }
    return found !== null;
  }, `a mail to ${to} with a /${page} link`);
  const { mail, link, token } = found;
  assert.ok(link.startsWith(`${base}/${page}#token=`), `the link leads to the app: ${link}`);
  // CONTRACT §7: at least 128 random bits, URL-safe base64; never in the Subject.
  assert.ok(token.length >= 22, `token of ${token.length} characters`);
  assert.ok(!mail.subject.includes(token), 'token in the Subject');
  assert.ok(mail.html.includes(token), 'the HTML part has the link too');
  return { link, token };
}

/** assertTokenStayedInBrowser checks the server's request log and the browser's requests for the token. */
function assertTokenStayedInBrowser(token, w, page) {
  const lines = gh.logs().split('\n');
  assert.ok(
    lines.some((l) => l.includes(`/${page}`)),
    `the server logged the page load of /${page} (else this check proves nothing)`,
  );
  const leaked = lines.filter((l) => l.includes(token));
  assert.deepEqual(leaked, [], 'log lines with the token');
  for (const r of w.requests) {
    assert.ok(!r.req.url().includes(token), `token in the URL of ${r.method} ${r.path}`);
    const referer = r.req.headers()['referer'] ?? '';
    assert.ok(!referer.includes(token), `token in the Referer of ${r.method} ${r.path}`);
  }
}

async function newContext() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const w = watch(context);
  const page = await context.newPage();
  return { context, page, w };
}

async function logIn(page, email, password) {
  await page.goto(`${gh.url}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

describe('accounts by email in the browser', () => {
  it('registration sends a verification mail; its link verifies the address, and the banner goes', async () => {
    const { context, page, w } = await newContext();
    const email = uniqueEmail('verify');
    await page.goto(`${gh.url}/register`);
    await page.getByLabel('Name').fill('Grace Hopper');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(`${gh.url}/dashboard`);
    const banner = page.getByRole('heading', { name: 'Verify your email' });
    await banner.waitFor();
    await screenshot(page, 'email-01-banner');

    const { link, token } = await linkFor(email, 'verify-email');
    await page.goto(link);
    await page.getByText(/is verified/).waitFor();
    await page.getByText(email).first().waitFor();
    // The fragment is gone from the address bar (and so from the history).
    assert.equal(page.url(), `${gh.url}/verify-email`);
    await screenshot(page, 'email-02-verified');
    await page.goBack();
    assert.ok(!page.url().includes(token), `history entry kept the token: ${page.url()}`);

    // A reload asks the server afresh: the user is verified there too.
    await page.goto(`${gh.url}/dashboard`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    assert.equal(await banner.count(), 0, 'the banner is gone once verified');

    // The link works once; the page shows the problem's detail.
    await page.goto(link);
    await page.getByRole('alert').getByText(/not valid/i).waitFor();
    assert.equal(await page.getByText(/is verified/).count(), 0);

    assertTokenStayedInBrowser(token, w, 'verify-email');
    assert.deepEqual(w.problems, [], 'CSP violations or page errors');
    await context.close();
  });

  it('forgot password from the login page: the mailed link sets a new password; the old one is refused', async () => {
    const { context, page, w } = await newContext();
    const email = uniqueEmail('reset');
    // An account, signed in in this browser: the reset must end that session.
    await page.goto(`${gh.url}/register`);
    await page.getByLabel('Name').fill('Ada');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(`${gh.url}/dashboard`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);

    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.waitForURL(`${gh.url}/forgot-password`);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText(/link to set a new password is on its way/).waitFor();
    await screenshot(page, 'email-03-forgot');

    // An unknown address gets the same answer in the page.
    const other = await context.newPage();
    await other.goto(`${gh.url}/forgot-password`);
    await other.getByLabel('Email').fill(uniqueEmail('nobody'));
    await other.getByRole('button', { name: 'Send reset link' }).click();
    await other.getByText(/link to set a new password is on its way/).waitFor();
    await other.close();

    const { link, token } = await linkFor(email, 'reset-password');
    await page.goto(link);
    await page.getByLabel('New password').waitFor();
    assert.equal(page.url(), `${gh.url}/reset-password`, 'the fragment is dropped from the address bar');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByText(/Your password has been changed/).waitFor();
    await screenshot(page, 'email-04-reset');
    await page.getByRole('link', { name: 'Log in', exact: true }).last().click();
    await page.waitForURL(/\/login/);

    // The old password is refused, the new one works.
    await logIn(page, email, PASSWORD);
    await page.getByText('Wrong email or password.').waitFor();
    await logIn(page, email, NEW_PASSWORD);
    await page.waitForURL(`${gh.url}/dashboard`);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();

    // The link was single-use.
    const again = await fetch(`${gh.url}/api/auth/password/reset`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token, new_password: 'yet another passphrase here' }),
    });
    assert.equal(again.status, 400);
    assert.equal((await again.json()).code, 'email_token_invalid');

    assertTokenStayedInBrowser(token, w, 'reset-password');
    assert.deepEqual(w.problems, [], 'CSP violations or page errors');
    await context.close();
  });

  it('email change from the Account page: confirmed from the link sent to the new address', async () => {
    const { context, page, w } = await newContext();
    const email = uniqueEmail('change');
    const next = uniqueEmail('changed');
    await page.goto(`${gh.url}/register`);
    await page.getByLabel('Name').fill('Katherine');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(`${gh.url}/dashboard`);

    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    // A wrong password is refused, visibly.
    await page.getByLabel('New email').fill(next);
    await page.getByRole('form', { name: 'Change email' }).getByLabel('Current password').fill('not my password');
    await page.getByRole('button', { name: 'Change email' }).click();
    await page.getByRole('alert').getByText('The current password is not correct.').waitFor();
    await page.getByLabel('New email').fill(next);
    await page.getByRole('form', { name: 'Change email' }).getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change email' }).click();
    await page.getByText(/Your email changes when you open it/).waitFor();
    await screenshot(page, 'email-05-change');

    const { link, token } = await linkFor(next, 'confirm-email');
    await page.goto(link);
    await page.getByText(/Your email address is now/).waitFor();
    assert.equal(page.url(), `${gh.url}/confirm-email`);
    await page.getByText(next).first().waitFor();

    // The new address logs in; the old one no longer does.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await logIn(page, email, PASSWORD);
    await page.getByText('Wrong email or password.').waitFor();
    await logIn(page, next, PASSWORD);
    await page.waitForURL(`${gh.url}/dashboard`);

    assertTokenStayedInBrowser(token, w, 'confirm-email');
    assert.deepEqual(w.problems, [], 'CSP violations or page errors');
    await context.close();
  });

  it('with --require-verified-email: registration says to verify first, login is refused until the link is followed', async () => {
    const port = await freePort();
    const strict = await startGatehouse(
      '--addr',
      `127.0.0.1:${port}`,
      '--app-url',
      `http://127.0.0.1:${port}`,
      '--smtp-url',
      `smtp://${smtp.smtp}`,
      '--require-verified-email',
    );
    const { context, page, w } = await newContext();
    try {
      const email = uniqueEmail('strict');
      await page.goto(`${strict.url}/register`);
      await page.getByLabel('Name').fill('Barbara');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByText(/Your account is created/).waitFor();
      assert.equal(page.url(), `${strict.url}/register`, 'no auto-login');

      await page.goto(`${strict.url}/login`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.getByRole('alert').getByText(/not verified/i).waitFor();
      const refused = w.to('/api/auth/login', 'POST').at(-1);
      assert.equal((await refused.req.response()).status(), 403);

      const { link } = await linkFor(email, 'verify-email', strict.url);
      await page.goto(link);
      await page.getByText(/is verified/).waitFor();

      await page.goto(`${strict.url}/login`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.waitForURL(`${strict.url}/dashboard`);
      assert.equal(await page.getByRole('heading', { name: 'Verify your email' }).count(), 0);
      assert.deepEqual(w.problems, [], 'CSP violations or page errors');
    } finally {
      await context.close();
      await strict.stop();
    }
  });
});
