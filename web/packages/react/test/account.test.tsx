// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { StrictMode, act } from 'react';
import { useAuth, useFragmentToken, useResetPassword, useUpdateProfile, useVerifyEmail } from '../src/index.js';
import { FakeGatehouse } from '../../client/test/fakes.js';
import { PASSWORD, cleanUp, client, render, text } from './harness.js';

afterEach(cleanUp);

/** A reset form as an app would write it: the token from the fragment, the hook's state shown. */
function Reset({ password }: { password: string }) {
  const token = useFragmentToken();
  const reset = useResetPassword();
  return (
    <>
      <p id="token">{token ?? 'none'}</p>
      <p id="state">{reset.pending ? 'pending' : reset.done ? 'done' : reset.error ? `error:${reset.error.code}:${reset.error.message}` : 'idle'}</p>
      <button id="go" onClick={() => reset.run(token ?? '', password)}>
        Set new password
      </button>
    </>
  );
}

async function click(el: HTMLElement, id: string): Promise<void> {
  await act(async () => {
    (el.querySelector(`#${id}`) as HTMLButtonElement).click();
  });
}

describe('useResetPassword and useFragmentToken', () => {
  it('takes the token from the fragment, drops it from the address, and reports pending, then done', async () => {
    const server = new FakeGatehouse();
    // The reset call waits at this gate, so that the pending state can be seen.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inner = server.fetch;
    server.fetch = async (input, init) => {
      if (String(input).endsWith('/api/auth/password/reset')) await gate;
      return inner(input, init);
    };
    const c = client(server);
    await c.forgotPassword('ada@example.com');
    const token = server.mails.at(-1)!.token;
    history.replaceState(null, '', `/reset-password?from=mail#token=${token}`);

    const el = await render(c, <Reset password="a brand new passphrase" />);
    expect(text(el, 'token')).toBe(token);
    expect(location.hash).toBe('');
    expect(location.pathname + location.search).toBe('/reset-password?from=mail');
    expect(text(el, 'state')).toBe('idle');

    await click(el, 'go');
    expect(text(el, 'state')).toBe('pending');
    await act(async () => {
      release();
      await gate;
    });
    await act(async () => undefined);
    expect(text(el, 'state')).toBe('done');
    expect(server.password).toBe('a brand new passphrase');
  });

  it('shows the problem code and detail when the server refuses', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    history.replaceState(null, '', '/reset-password#token=not-a-real-token');
    const el = await render(c, <Reset password="a brand new passphrase" />);
    await click(el, 'go');
    await act(async () => undefined);
    expect(text(el, 'state')).toBe('error:email_token_invalid:email_token_invalid');
    expect(server.password).toBe(PASSWORD);
  });
});

function Verify({ token }: { token: string }) {
  const { user } = useAuth();
  const verify = useVerifyEmail();
  return (
    <>
      <p id="verified">{String(user?.email_verified)}</p>
      <p id="data">{verify.data?.email ?? ''}</p>
      <button id="go" onClick={() => verify.run(token)}>
        Verify
      </button>
    </>
  );
}

describe('useFragmentToken in StrictMode', () => {
  it('keeps the token through the development double render', async () => {
    const c = client(new FakeGatehouse());
    history.replaceState(null, '', '/verify-email#token=strict-token');
    const el = await render(
      c,
      <StrictMode>
        <Reset password="unused" />
      </StrictMode>,
    );
    expect(text(el, 'token')).toBe('strict-token');
    expect(location.hash).toBe('');
  });
});

describe('useVerifyEmail', () => {
  it('returns the user and the session shows it verified', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    await c.sendVerificationEmail();
    const el = await render(c, <Verify token={server.mails.at(-1)!.token} />);
    expect(text(el, 'verified')).toBe('false');
    await click(el, 'go');
    await act(async () => undefined);
    expect(text(el, 'data')).toBe('ada@example.com');
    expect(text(el, 'verified')).toBe('true');
  });
});

function Profile({ name }: { name: string }) {
  const { user } = useAuth();
  const update = useUpdateProfile();
  return (
    <>
      <p id="name">{user?.name}</p>
      <p id="state">{update.pending ? 'pending' : update.done ? `done:${update.data?.name}` : update.error ? `error:${update.error.code}:${update.error.fieldErrors.map((f) => f.field).join()}` : 'idle'}</p>
      <button id="go" onClick={() => update.run({ name })}>
        Save
      </button>
    </>
  );
}

describe('useUpdateProfile', () => {
  it('returns the changed user and useAuth shows the new name', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    const el = await render(c, <Profile name="Ada Lovelace" />);
    expect(text(el, 'name')).toBe('Ada');
    await click(el, 'go');
    await act(async () => undefined);
    expect(text(el, 'state')).toBe('done:Ada Lovelace');
    expect(text(el, 'name')).toBe('Ada Lovelace');
  });

  it('reports a refused name with its field, keeping the old name', async () => {
    const server = new FakeGatehouse();
    const c = client(server);
    await c.login('ada@example.com', PASSWORD);
    const el = await render(c, <Profile name={'x'.repeat(101)} />);
    await click(el, 'go');
    await act(async () => undefined);
    expect(text(el, 'state')).toBe('error:validation_failed:name');
    expect(text(el, 'name')).toBe('Ada');
  });
});
