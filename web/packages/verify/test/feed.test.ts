import { afterEach, describe, expect, it } from 'vitest';
import { type Verifier, type VerifierOptions, VerifyError, createVerifier } from '../src/index.js';
import { FakeIssuer, eventually } from './fake.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: Partial<VerifierOptions> = {}, tune?: (g: FakeIssuer) => void) {
  const g = await FakeIssuer.start();
  cleanups.push(() => g.stop());
  tune?.(g);
  const v = await createVerifier({ issuer: g.url, audience: 'gatehouse', clientId: g.clientId, clientSecret: g.secret, ...opts });
  cleanups.push(() => v.close());
  return { g, v };
}

async function verdict(v: Verifier, tok: string): Promise<string> {
  try {
    await v.verify(tok);
    return 'ok';
  } catch (err) {
    if (err instanceof VerifyError) return err.code;
    throw err;
  }
}

const live = (v: Verifier) => eventually('feed live', () => v.status().state === 'live');

describe('revocation feed follower', () => {
  it('refuses a revoked session within a second, and only that one', async () => {
    const { g, v } = await setup();
    await live(v);
    const t1 = await g.mint({ sid: 's1' });
    const t2 = await g.mint({ sid: 's2' });
    expect(await verdict(v, t1)).toBe('ok');
    g.revoke(['s1']);
    const took = await eventually('revoked', async () => (await verdict(v, t1)) === 'session_revoked', 1_000);
    expect(took).toBeLessThan(1_000);
    expect(await verdict(v, t2)).toBe('ok');
    expect(v.status()).toMatchObject({ state: 'live', lastSeq: 1, revokedSessions: 1, lastError: '' });
    expect(v.ready()).toBe(true);
  });

  it('reads the feed page by page from 0 before it goes live, and forgets sessions past maxTokenLifetime', async () => {
    const { g, v } = await setup({ maxTokenLifetime: 60 }, (g) => {
      g.revoke(['old'], new Date(Date.now() - 120_000));
      g.revoke(['a', 'b']);
    });
    await live(v);
    expect(g.afters[0]).toBe(0);
    expect(v.status()).toMatchObject({ lastSeq: 3, revokedSessions: 2 });
    expect(await verdict(v, await g.mint({ sid: 'a' }))).toBe('session_revoked');
    expect(await verdict(v, await g.mint({ sid: 'old' }))).toBe('ok');
  });

  it('fails closed until it has caught up, then resumes after dropped connections', async () => {
    const { g, v } = await setup({}, (g) => (g.drop = true));
    const tok = await g.mint({ sid: 's1' });
    await eventually('some feed requests', () => g.feedGets >= 2);
    const err = await v.verify(tok).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifyError);
    expect(err).toMatchObject({ code: 'unavailable', status: 503 });
    expect(v.status().state).toBe('syncing');
    expect(v.status().lastError).toMatch(/revocation feed/);
    expect(v.ready()).toBe(false);
    g.drop = false;
    await live(v);
    g.revoke(['s0']);
    await eventually('seq 1 read', () => v.status().lastSeq === 1);
    g.drop = true;
    const drops = g.feedGets;
    await eventually('dropped again', () => g.feedGets >= drops + 2);
    g.revoke(['s1']); // while the follower cannot read the feed
    const asked = g.afters.length;
    g.drop = false;
    await eventually('revocation seen after the drop', async () => (await verdict(v, tok)) === 'session_revoked');
    // It resumed from the seq it had read, not from the start.
    expect(g.afters.slice(asked)[0]).toBe(1);
    expect(v.status().lastError).toBe('');
  });

  it('on 410 feed_gap resumes from first_seq-1 and refuses tokens issued before since', async () => {
    const { g, v } = await setup();
    g.revoke(['s1', 's2', 's3']);
    await eventually('seq 3 read', () => v.status().lastSeq === 3 && v.status().state === 'live');
    const since = new Date(Date.now() - 30_000);
    const iat = Math.floor(Date.now() / 1000);
    const old = await g.mint({ sid: 'x', iat: iat - 60, nbf: iat - 60 });
    const fresh = await g.mint({ sid: 'y', iat, nbf: iat });
    // Same tick: the follower's waiting poll sees the feed already pruned.
    g.revoke(['s4', 's5', 'y-other']);
    g.prune(6, since);
    await eventually('gap handled', () => v.status().since !== undefined && v.status().state === 'live');
    expect(g.afters).toContain(5);
    expect(v.status()).toMatchObject({ lastSeq: 6, since: since.toISOString() });
    expect(await verdict(v, old)).toBe('token_expired');
    expect(await verdict(v, fresh)).toBe('ok');
    expect(await verdict(v, await g.mint({ sid: 'y-other' }))).toBe('session_revoked');
    expect(await verdict(v, await g.mint({ sid: 's4' }))).toBe('ok'); // pruned unseen: covered by the cutoff instead
  });

  it('goes stale without answers, refusing with 503, and recovers', async () => {
    const { g, v } = await setup({ feedStaleAfter: 1.5 });
    await live(v);
    const tok = await g.mint();
    g.drop = true;
    await eventually('stale', () => v.status().state === 'stale', 4_000);
    expect(await verdict(v, tok)).toBe('unavailable');
    expect(v.status().lagSeconds).toBeGreaterThan(1.5);
    g.drop = false;
    await eventually('live again', () => v.status().state === 'live', 8_000);
    expect(await verdict(v, tok)).toBe('ok');
  });

  it('never goes live with a wrong secret, and says why', async () => {
    const { g, v } = await setup({ clientSecret: 'wrong' });
    await eventually('a few token attempts', () => g.tokenPosts >= 3);
    expect(v.status()).toMatchObject({ state: 'syncing', lastError: 'client token: status 401 invalid_client' });
    expect(g.feedGets).toBe(0);
    expect(await verdict(v, await g.mint())).toBe('unavailable');
  });

  it('renews its client token after a 401, and before it expires', async () => {
    const { g, v } = await setup({}, (g) => (g.expiresIn = 1));
    await live(v);
    // Renewed at three quarters of its life, without a 401.
    await eventually('renewed before expiry', () => g.tokenPosts >= 3, 3_000);
    expect(g.feed401s).toBe(0);
    g.expiresIn = 300;
    await eventually('long-lived token', () => g.tokenPosts >= 4, 3_000);
    const posts = g.tokenPosts;
    g.forgetClientTokens();
    g.revoke(['s1']);
    const tok = await g.mint({ sid: 's1' });
    // A poll in flight with the old token may deliver the revocation first:
    // wait for the 401 and the renewal it causes, each on its own.
    await eventually('a 401 from the feed', () => g.feed401s >= 1, 5_000);
    await eventually('a new client token after the 401', () => g.tokenPosts >= posts + 1, 5_000);
    await eventually('revocation seen', async () => (await verdict(v, tok)) === 'session_revoked');
    await eventually('live with the new token', () => v.status().state === 'live', 5_000);
  });

  it('close() stops the follower; verify refuses afterwards', async () => {
    const { g, v } = await setup();
    await live(v);
    await v.close();
    // A poll aborted by close() may still reach the fake after it: count
    // from when the connection had time to land, then see no new ones.
    await new Promise((r) => setTimeout(r, 100));
    const gets = g.feedGets;
    expect(v.status().state).toBe('syncing');
    expect(await verdict(v, await g.mint())).toBe('unavailable');
    await new Promise((r) => setTimeout(r, 300));
    expect(g.feedGets).toBe(gets);
    await v.close(); // twice is fine
  });
});
