// Passkeys (WebAuthn) in Chromium against the real server, with Chromium's
// virtual authenticator (Chrome DevTools Protocol, WebAuthn domain) in
// place of a security key or a phone: a passkey added from the Security
// page, a sign-in with it alone (no password typed) at aal2, its removal,
// after which the server refuses it though the authenticator still holds
// it; a passkey as the second step of a password login; step-up with a
// passkey; and the message a page opened on 127.0.0.1 shows.
//
// The pages are opened at http://localhost:PORT: the server listens on
// 127.0.0.1, so its RP ID is "localhost" and its allowed origin
// http://localhost:PORT (server/passkeys.go); browsers refuse WebAuthn on
// an IP address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, cleanupScratch, launchChromium, loginThroughUI, registerUser, screenshot, startGatehouse, uniqueEmail, watch } from './harness.mjs';

let gh;
let base;
let browser;

before(async () => {
  gh = await startGatehouse();
  base = gh.url.replace('//127.0.0.1:', '//localhost:');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gh?.stop();
  cleanupScratch();
});

/**
 * newContext opens a page with a virtual authenticator attached: a
 * platform one (internal transport) that keeps resident keys, verifies the
 * user (as a fingerprint would) and answers without a human.
 *
 * With a virtual authenticator Chromium answers a conditional request (the
 * passkeys in the email field's autofill) at once, as if the user had
 * picked the passkey: the login page would sign in before any button is
 * clicked. Unless `autofill` is asked for, the page is told the browser
 * has no such autofill (isConditionalMediationAvailable() is false, as in
 * browsers without it), so the button and the second step can be tested.
 */
async function newContext({ autofill = false, native = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  if (!native) {
    // A browser without WebAuthn Level 3's JSON methods: the SDK falls
    // back on @simplewebauthn/browser's conversions.
    await context.addInitScript(() => {
      if (typeof PublicKeyCredential !== 'function') return;
      delete PublicKeyCredential.parseCreationOptionsFromJSON;
      delete PublicKeyCredential.parseRequestOptionsFromJSON;
      delete PublicKeyCredential.prototype.toJSON;
    });
  }
  if (!autofill) {
    await context.addInitScript(() => {
      // about:blank is no secure context: no WebAuthn there.
      if (typeof PublicKeyCredential === 'function') PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
  }
  const w = watch(context);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const addCredential = (credential) => cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  return { context, page, w, credentials, addCredential };
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${base}/login`);
}

async function securityPage(page) {
  await page.getByRole('link', { name: 'Security', exact: true }).click();
  await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
}

async function acr(page) {
  const el = page.getByTestId('session-acr');
  await el.waitFor();
  return (await el.textContent()).trim();
}

/** addPasskey adds a passkey from the Security page and waits for it in the list. */
async function addPasskey(page, name) {
  await page.getByLabel('Passkey name (optional)').fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByTestId('passkey-list').getByText(name, { exact: true }).waitFor();
}

/** statuses are the HTTP statuses of the recorded requests, in order. */
function statuses(reqs) {
  return Promise.all(reqs.map(async (r) => (await r.req.response())?.status()));
}

describe('passkeys in the browser', () => {
  it('adds a passkey, signs in with it alone at aal2, removes it, and is then refused', async () => {
    const email = uniqueEmail('pk');
    await registerUser(gh.url, email, 'Grace Hopper');
    const a = await newContext();
    await loginThroughUI(a.page, base, email);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal1');
    await a.page.getByText('No passkeys yet.').waitFor();
    // This Chromium converts the JSON itself (the SDK's first choice).
    assert.equal(await a.page.evaluate(() => typeof PublicKeyCredential.parseCreationOptionsFromJSON), 'function');

    await addPasskey(a.page, 'Test laptop');
    await a.page.getByRole('status').getByText('Passkey “Test laptop” added.').waitFor();
    await a.page.getByTestId('passkey-count').getByText('1').waitFor();
    const item = a.page.getByTestId('passkey-list').locator('li');
    assert.equal(await item.count(), 1);
    assert.match(await item.textContent(), /Never used/);
    const held = await a.credentials();
    assert.equal(held.length, 1, 'the authenticator holds the new credential');
    assert.equal(held[0].rpId, 'localhost');
    assert.equal(held[0].isResidentCredential, true, 'a discoverable credential (a passkey)');
    const created = a.w.to('/api/auth/passkeys/register', 'POST');
    assert.deepEqual(await statuses(created), [201]);
    await screenshot(a.page, 'passkeys-01-added');

    // Rename it.
    await a.page.getByRole('button', { name: 'Rename Test laptop' }).click();
    await a.page.getByLabel('New name for Test laptop').fill('Virtual key');
    await a.page.getByRole('button', { name: 'Save' }).click();
    await a.page.getByTestId('passkey-list').getByText('Virtual key', { exact: true }).waitFor();

    // Sign in with the passkey alone: no email, no password typed.
    await logOut(a.page);
    await a.page.getByRole('button', { name: 'Log in with a passkey' }).click();
    await a.page.waitForURL(`${base}/dashboard`);
    assert.equal(await a.page.getByLabel('Password').count(), 0);
    const logins = a.w.to('/api/auth/login', 'POST');
    assert.equal(logins.length, 1, 'only the first sign-in sent a password');
    assert.deepEqual(await statuses(a.w.to('/api/auth/passkeys/login', 'POST')), [200]);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal2');
    assert.match(await a.page.getByTestId('session-amr').textContent(), /hwk/);
    await a.page.getByTestId('passkey-list').getByText(/Last used/).waitFor();
    await screenshot(a.page, 'passkeys-02-signed-in');

    // Remove it: the session is aal2 already, so no prompt.
    await a.page.getByRole('button', { name: 'Remove Virtual key' }).click();
    await a.page.getByText('No passkeys yet.').waitFor();
    assert.equal(await a.page.getByRole('dialog').count(), 0, 'no step-up prompt at aal2');
    assert.deepEqual(await statuses(a.w.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/api/auth/passkeys/'))), [204]);
    await a.page.getByTestId('passkey-count').getByText('0').waitFor();

    // The authenticator still holds it, but the server refuses it.
    await logOut(a.page);
    await a.page.getByRole('button', { name: 'Log in with a passkey' }).click();
    await a.page.getByRole('alert').getByText(/passkey was not accepted/).waitFor();
    assert.equal(a.page.url().startsWith(`${base}/login`), true, 'still on the login page');
    assert.equal((await a.credentials()).length, 1, 'the credential is still on the authenticator');
    const refused = a.w.to('/api/auth/passkeys/login', 'POST');
    assert.deepEqual(await statuses(refused), [200, 401]);
    assert.equal((await (await refused[1].req.response()).json()).code, 'passkey_invalid');
    await screenshot(a.page, 'passkeys-03-refused');

    // The password still works, with the autofill request stopped first.
    await a.page.getByLabel('Email').fill(email);
    await a.page.getByLabel('Password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await a.page.waitForURL(`${base}/dashboard`);

    assert.deepEqual(a.w.problems, [], 'CSP violations or page errors');
    await a.context.close();
  });

  it('offers a passkey as the second step of a password login, and steps an aal1 session up with it', async () => {
    const email = uniqueEmail('pk2');
    await registerUser(gh.url, email, 'Katherine Johnson');

    // B signs in with the password before any factor exists: aal1.
    const b = await newContext();
    await loginThroughUI(b.page, base, email);

    const a = await newContext();
    await loginThroughUI(a.page, base, email);
    await securityPage(a.page);
    await addPasskey(a.page, 'Phone');

    // The password alone no longer signs in: the second step offers the passkey.
    await logOut(a.page);
    await a.page.getByLabel('Email').fill(email);
    await a.page.getByLabel('Password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await a.page.getByRole('heading', { name: 'Two-step verification', level: 1 }).waitFor();
    await screenshot(a.page, 'passkeys-04-second-step');
    await a.page.getByRole('button', { name: 'Use a passkey' }).click();
    await a.page.waitForURL(`${base}/dashboard`);
    const verify = a.w.to('/api/auth/mfa/verify', 'POST');
    assert.deepEqual(await statuses(verify), [200]);
    assert.equal(verify[0].auth, null, 'the second step carries no bearer token');
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal2');
    assert.match(await a.page.getByTestId('session-amr').textContent(), /hwk/);

    // B, still aal1, removes the passkey: the server wants aal2 and the
    // prompt offers the passkey. B's authenticator gets a copy of it (as
    // a synced passkey would be on the user's other device).
    const [cred] = await a.credentials();
    await b.addCredential(cred);
    await securityPage(b.page);
    assert.equal(await acr(b.page), 'aal1');
    await b.page.getByRole('button', { name: 'Remove Phone' }).click();
    const prompt = b.page.getByRole('dialog', { name: 'Confirm it’s you' });
    await prompt.waitFor();
    await screenshot(b.page, 'passkeys-05-step-up');
    await prompt.getByRole('button', { name: 'Use a passkey' }).click();
    await b.page.getByText('No passkeys yet.').waitFor();
    assert.equal(await acr(b.page), 'aal2');
    const deletes = b.w.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/api/auth/passkeys/'));
    assert.deepEqual(await statuses(deletes), [403, 204], 'refused at aal1, done after the step-up');
    const stepUp = b.w.to('/api/auth/mfa/verify', 'POST');
    assert.equal(stepUp.length, 1);
    assert.match(stepUp[0].auth ?? '', /^Bearer /, 'step-up carries the bearer token');

    assert.deepEqual(a.w.problems, [], 'CSP violations or page errors in A');
    assert.deepEqual(b.w.problems, [], 'CSP violations or page errors in B');
    await a.context.close();
    await b.context.close();
  });

  it('signs in from the email field’s autofill (conditional UI) once the user has a passkey', async () => {
    const email = uniqueEmail('pk3');
    await registerUser(gh.url, email, 'Dorothy Vaughan');
    const a = await newContext({ autofill: true });
    await a.page.goto(`${base}/login`);
    assert.equal(await a.page.getByLabel('Email').getAttribute('autocomplete'), 'username webauthn');
    await loginThroughUI(a.page, base, email);
    await securityPage(a.page);
    await addPasskey(a.page, 'Laptop');
    const before = a.w.to('/api/auth/passkeys/login', 'POST').length;

    // The login page starts a conditional request; the virtual
    // authenticator answers it as a user picking the passkey would.
    await logOut(a.page);
    await a.page.waitForURL(`${base}/dashboard`);
    assert.equal(a.w.to('/api/auth/login', 'POST').length, 1, 'no password sent after the first sign-in');
    const picked = a.w.to('/api/auth/passkeys/login', 'POST').slice(before);
    assert.deepEqual(await statuses(picked), [200]);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal2');

    // Removed, the passkey picked from the autofill is refused, and the
    // page says so (the autofill is offered again a few times, each pick
    // refused likewise).
    await a.page.getByRole('button', { name: 'Remove Laptop' }).click();
    await a.page.getByText('No passkeys yet.').waitFor();
    await logOut(a.page);
    await a.page.getByRole('alert').getByText(/passkey was not accepted/).waitFor();
    const refused = await statuses(a.w.to('/api/auth/passkeys/login', 'POST').slice(before + 1));
    assert.ok(refused.length >= 1 && refused.every((s) => s === 401), `refused: ${refused}`);
    // The password still signs in.
    await a.page.getByLabel('Email').fill(email);
    await a.page.getByLabel('Password').fill(PASSWORD);
    await a.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await a.page.waitForURL(`${base}/dashboard`);
    assert.deepEqual(a.w.problems, [], 'CSP violations or page errors');
    await a.context.close();
  });

  it('works the same where the browser lacks the JSON methods (the @simplewebauthn/browser fallback)', async () => {
    const email = uniqueEmail('pk4');
    await registerUser(gh.url, email, 'Mary Jackson');
    const a = await newContext({ native: false });
    await loginThroughUI(a.page, base, email);
    assert.equal(await a.page.evaluate(() => typeof PublicKeyCredential.parseCreationOptionsFromJSON), 'undefined');
    await securityPage(a.page);
    await addPasskey(a.page, 'Old browser');
    assert.equal((await a.credentials()).length, 1);
    await logOut(a.page);
    await a.page.getByRole('button', { name: 'Log in with a passkey' }).click();
    await a.page.waitForURL(`${base}/dashboard`);
    await securityPage(a.page);
    assert.equal(await acr(a.page), 'aal2');
    assert.deepEqual(a.w.problems, [], 'CSP violations or page errors');
    await a.context.close();
  });

  it('tells a visitor on 127.0.0.1 to open localhost instead', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${gh.url}/login`);
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    const port = new URL(gh.url).port;
    await page.getByTestId('passkey-problem').getByText(`Open http://localhost:${port} instead.`, { exact: false }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Log in with a passkey' }).isDisabled(), true);
    await context.close();
  });
});
