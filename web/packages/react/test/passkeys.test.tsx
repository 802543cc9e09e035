// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, useState } from 'react';
import type { User } from '@gatehouse/client';
import { useAuth, useConditionalPasskeyLogin, usePasskeyLogin, usePasskeys } from '../src/index.js';
import { FakePasskeyGatehouse, FakeWebAuthn } from '../../client/test/passkey-fakes.js';
import { PASSWORD, cleanUp, click, client, render, text } from './harness.js';

let webauthn: FakeWebAuthn;

beforeEach(() => {
  webauthn = new FakeWebAuthn(true);
  const g = webauthn.globals();
  vi.stubGlobal('PublicKeyCredential', g.PublicKeyCredential);
  Object.defineProperty(navigator, 'credentials', { value: g.navigator.credentials, configurable: true });
});

afterEach(() => {
  cleanUp();
  vi.unstubAllGlobals();
});

/** A passkey panel as an app would write it. */
function Panel() {
  const { list, add, rename, remove } = usePasskeys();
  const first = list.data?.[0];
  const error = add.error ?? remove.error;
  return (
    <>
      <p id="list">{list.data ? list.data.map((p) => p.name).join(',') || 'none' : 'loading'}</p>
      <p id="error">{error?.code ?? ''}</p>
      <button id="add" onClick={() => add.run('Laptop')}>
        Add
      </button>
      <button id="rename" onClick={() => first && rename.run(first.id, 'Phone')}>
        Rename
      </button>
      <button id="remove" onClick={() => first && remove.run(first.id)}>
        Remove
      </button>
    </>
  );
}

describe('passkeys in React', () => {
  it('usePasskeys lists, adds, renames and removes, loading the list again after each change', async () => {
    const server = new FakePasskeyGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    const el = await render(c, <Panel />);
    await act(async () => undefined);
    expect(text(el, 'list')).toBe('none');
    await click(el, 'add');
    expect(text(el, 'list')).toBe('Laptop');
    await click(el, 'rename');
    expect(text(el, 'list')).toBe('Phone');
    // The password session is aal1 and the passkey is now a factor: removing it needs a step-up.
    await click(el, 'remove');
    expect(text(el, 'error')).toBe('insufficient_user_authentication');
    await act(async () => c.stepUp({ passkey: true }));
    await click(el, 'remove');
    expect(text(el, 'list')).toBe('none');
    webauthn.behaviour = 'cancel';
    await click(el, 'add');
    expect(text(el, 'error')).toBe('passkey_cancelled');
  });

  it('usePasskeyLogin signs in with a passkey alone; useAuth shows aal2', async () => {
    const server = new FakePasskeyGatehouse();
    const setup = client(server);
    await setup.login('ada@example.com', PASSWORD);
    await setup.registerPasskey('Laptop');
    await setup.logout();
    function Login() {
      const { status, acr } = useAuth();
      const login = usePasskeyLogin();
      return (
        <>
          <p id="who">{status === 'authenticated' ? `${login.data?.email}:${acr}` : (login.error?.code ?? status)}</p>
          <button id="go" onClick={() => login.run()}>
            Log in with a passkey
          </button>
        </>
      );
    }
    const el = await render(client(server), <Login />);
    await click(el, 'go');
    expect(text(el, 'who')).toBe('ada@example.com:aal2');
  });

  it('useConditionalPasskeyLogin runs while enabled, stops when disabled, and signs in when a passkey is picked', async () => {
    const server = new FakePasskeyGatehouse();
    const setup = client(server);
    await setup.login('ada@example.com', PASSWORD);
    await setup.registerPasskey('Laptop');
    await setup.logout();
    const signedIn: User[] = [];
    function Field() {
      const [on, setOn] = useState(true);
      const autofill = useConditionalPasskeyLogin(on, (u) => signedIn.push(u));
      const { status } = useAuth();
      return (
        <>
          <input autoComplete="username webauthn" />
          <p id="state">{`${autofill.active}:${status}`}</p>
          <button id="toggle" onClick={() => setOn((x) => !x)}>
            Toggle
          </button>
        </>
      );
    }
    const el = await render(client(server), <Field />);
    await act(async () => new Promise((r) => setTimeout(r, 20)));
    expect(webauthn.pick).not.toBeNull();
    expect(webauthn.calls.at(-1)!.options.mediation).toBe('conditional');
    const first = webauthn.calls.at(-1)!.options.signal!;
    await click(el, 'toggle');
    expect(first.aborted).toBe(true);
    expect(text(el, 'state')).toMatch(/^false:/);
    await click(el, 'toggle');
    await act(async () => new Promise((r) => setTimeout(r, 20)));
    expect(webauthn.calls.at(-1)!.options.signal!.aborted).toBe(false);
    await act(async () => {
      webauthn.pick!();
      await new Promise((r) => setTimeout(r, 20));
    });
    expect(signedIn.map((u) => u.email)).toEqual(['ada@example.com']);
    expect(text(el, 'state')).toBe('false:authenticated');
  });
});
