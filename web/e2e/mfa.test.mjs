// Second factors (CONTRACT §8) in Chromium against the real server: TOTP
// set up from the Security page (the test reads the secret from the page
// and computes codes itself, RFC 6238), the login's second step with a code
// and with a recovery code, and the step-up prompt in front of a password
// change made from a session that signed in with a password only (aal1),
// followed by the recovery codes' renewal and turning TOTP off.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, cleanupScratch, launchChromium, loginThroughUI, registerUser, screenshot, startGatehouse, uniqueEmail, watch } from './harness.mjs';
import { authenticator } from './totp.mjs';

const NEW_PASSWORD = 'another passphrase, longer still';

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

async function passwordStep(page, email, password = PASSWORD) {
  await page.goto(`${gh.url}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('heading', { name: 'Two-step verification', level: 1 }).waitFor();
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${gh.url}/login`);
}

async function securityPage(page) {
  await page.getByRole('link', { name: 'Security', exact: true }).click();
  await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
}

/** acr reads the session's level off the Security page. */
async function acr(page) {
  const el = page.getByTestId('session-acr');
  await el.waitFor();
  return (await el.textContent()).trim();
}

describe('second factors in the browser', () => {
  it('enrols TOTP, logs in with a code and with a recovery code, and steps up an aal1 session before a password change', async () => {
    const email = uniqueEmail('mfa');
    await registerUser(gh.url, email, 'Margaret Hamilton');

    // B signs in with the password alone before any factor exists: aal1.
    const b = await newContext();
    await loginThroughUI(b.page, gh.url, email);
    await securityPage(b.page);
    assert.equal(await acr(b.page), 'aal1');

    // A sets up the authenticator app.
    const a = await newContext();
    await loginThroughUI(a.page, gh.url, email);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal1');
    await a.page.getByTestId('totp-status').getByText('Off').waitFor();
    await a.page.getByRole('button', { name: 'Set up authenticator app' }).click();
    await a.page.getByLabel('Current password').fill('not the password');
    await a.page.getByRole('button', { name: 'Continue' }).click();
    await a.page.getByRole('alert').getByText('The current password is not correct.').waitFor();
    await a.page.getByLabel('Current password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Continue' }).click();
    const secretEl = a.page.getByTestId('totp-secret');
    await secretEl.waitFor();
    const secret = (await secretEl.textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{16,}=*$/, 'a base32 secret');
    // The QR code is drawn in the page (a data: URL, allowed by the CSP).
    const qr = a.page.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    assert.match(await qr.getAttribute('src'), /^data:image\/png;base64,/);
    await screenshot(a.page, 'mfa-01-scan');

    const app = authenticator(secret);
    await a.page.getByLabel('Authentication code').fill('000000' === app.code() ? '111111' : '000000');
    await a.page.getByRole('button', { name: 'Turn on' }).click();
    await a.page.getByRole('alert').getByText(/not valid/).waitFor();
    await a.page.getByLabel('Authentication code').fill(await app.next());
    await a.page.getByRole('button', { name: 'Turn on' }).click();
    const list = a.page.getByTestId('recovery-codes');
    await list.waitFor();
    const recovery = (await list.locator('li').allTextContents()).map((c) => c.trim());
    assert.equal(recovery.length, 10);
    assert.equal(new Set(recovery).size, 10);
    await screenshot(a.page, 'mfa-02-recovery-codes');
    // Confirming made this session aal2 (the SDK adopted the new token).
    assert.equal(await acr(a.page), 'aal2');
    await a.page.getByRole('button', { name: 'I saved them' }).click();
    await a.page.getByTestId('totp-status').getByText('On').waitFor();
    assert.equal((await a.page.getByTestId('recovery-codes-left').textContent()).trim(), '10');

    // Logging in now takes a second step; a wrong code is refused and the step stays.
    await logOut(a.page);
    await passwordStep(a.page, email);
    await screenshot(a.page, 'mfa-03-second-step');
    await a.page.getByLabel('Authentication code').fill(app.code() === '000000' ? '111111' : '000000');
    await a.page.getByRole('button', { name: 'Verify' }).click();
    await a.page.getByRole('alert').getByText(/not valid/).waitFor();
    await a.page.getByLabel('Authentication code').fill(await app.next());
    await a.page.getByRole('button', { name: 'Verify' }).click();
    await a.page.waitForURL(`${gh.url}/dashboard`);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal2');
    assert.match(await a.page.getByTestId('session-amr').textContent(), /otp/);
    const verify = a.w.to('/api/auth/mfa/verify', 'POST');
    assert.ok(verify.length >= 2 && verify.every((r) => r.auth === null), 'the second step carries no bearer token');

    // A recovery code signs in once.
    await logOut(a.page);
    await passwordStep(a.page, email);
    await a.page.getByRole('button', { name: 'Use a recovery code' }).click();
    await a.page.getByLabel('Recovery code').fill(recovery[0]);
    await a.page.getByRole('button', { name: 'Verify' }).click();
    await a.page.waitForURL(`${gh.url}/dashboard`);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal2');
    await a.page.getByTestId('recovery-codes-left').getByText('9').waitFor();
    await logOut(a.page);
    await passwordStep(a.page, email);
    await a.page.getByRole('button', { name: 'Use a recovery code' }).click();
    await a.page.getByLabel('Recovery code').fill(recovery[0]);
    await a.page.getByRole('button', { name: 'Verify' }).click();
    await a.page.getByRole('alert').getByText(/not valid/).waitFor();

    // B, still aal1, changes the password: the server wants aal2, the app
    // asks for a code, steps up and sends the change again.
    await b.page.getByRole('link', { name: 'Account', exact: true }).click();
    await b.page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    await b.page.locator('#password-current').fill(PASSWORD);
    await b.page.getByLabel('New password').fill(NEW_PASSWORD);
    await b.page.getByRole('button', { name: 'Change password' }).click();
    const prompt = b.page.getByRole('dialog', { name: 'Confirm it’s you' });
    await prompt.waitFor();
    await screenshot(b.page, 'mfa-04-step-up');
    await prompt.getByLabel('Authentication code').fill(await app.next());
    await prompt.getByRole('button', { name: 'Verify' }).click();
    await b.page.getByText('Your password has been changed.').waitFor();
    assert.equal(await prompt.count(), 0, 'the prompt is gone');
    const changes = b.w.to('/api/auth/password', 'POST');
    assert.equal(changes.length, 2, 'the change was sent, refused, and sent again');
    const statuses = await Promise.all(changes.map(async (r) => (await r.req.response())?.status()));
    assert.deepEqual(statuses, [403, 204]);
    const stepUp = b.w.to('/api/auth/mfa/verify', 'POST');
    assert.equal(stepUp.length, 1);
    assert.match(stepUp[0].auth ?? '', /^Bearer /, 'step-up carries the bearer token');
    assert.notEqual(changes[1].auth, changes[0].auth, 'the retry went with the stepped-up token');
    await securityPage(b.page);
    assert.equal(await acr(b.page), 'aal2');

    // At aal2, the codes are renewed and the app turned off without a prompt.
    await b.page.getByRole('button', { name: 'Regenerate recovery codes' }).click();
    const fresh = b.page.getByTestId('recovery-codes');
    await fresh.waitFor();
    const renewed = (await fresh.locator('li').allTextContents()).map((c) => c.trim());
    assert.equal(renewed.length, 10);
    assert.ok(!renewed.includes(recovery[1]), 'new codes');
    await b.page.getByRole('button', { name: 'I saved them' }).click();
    await b.page.getByRole('button', { name: 'Turn off authenticator app' }).click();
    await b.page.getByTestId('totp-status').getByText('Off').waitFor();
    assert.equal(await b.page.getByRole('dialog').count(), 0);

    // Without a factor, the new password alone signs in again.
    await logOut(b.page);
    await b.page.getByLabel('Email').fill(email);
    await b.page.getByLabel('Password').fill(NEW_PASSWORD);
    await b.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await b.page.waitForURL(`${gh.url}/dashboard`);

    assert.deepEqual(a.w.problems, [], 'CSP violations or page errors in A');
    assert.deepEqual(b.w.problems, [], 'CSP violations or page errors in B');
    await a.context.close();
    await b.context.close();
  });
});
