import { useCallback, useEffect, useState } from 'react';
import { useAuth } from '@gatehouse/react';
import { describe, failure } from '../errors';
import { formatTime, usePageTitle } from '../hooks';
import { navigate } from '../router';

interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string;
  ip: string;
  current: boolean;
}

/** device names a browser and system from a User-Agent, roughly: enough for a person to recognise it. */
export function device(ua: string): string {
  if (!ua) return 'Unknown device';
  const browser =
    /Edg\//.test(ua) ? 'Edge'
    : /HeadlessChrome/.test(ua) ? 'Chrome (headless)'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /Safari\//.test(ua) ? 'Safari'
    : /^curl\//.test(ua) ? 'curl'
    : /Go-http-client/.test(ua) ? 'Go program'
    : ua.split(/[/ ]/)[0] || 'Unknown browser';
  const os =
    /Android/.test(ua) ? 'Android'
    : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : '';
  return os ? `${browser} on ${os}` : browser;
}

export function SessionsPage({ onSignedOut }: { onSignedOut: (notice: string) => void }) {
  const heading = usePageTitle('Sessions');
  const { fetch, logout, logoutAll } = useAuth();
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const res = await fetch('/api/auth/sessions');
      if (!res.ok) throw await failure(res);
      setSessions((await res.json()) as Session[]);
    } catch (err) {
      setError(describe(err));
    } finally {
      setLoading(false);
    }
  }, [fetch]);

  useEffect(() => {
    void load();
  }, [load]);

  const revoke = async (s: Session) => {
    setBusy(s.id);
    setError(null);
    try {
      if (s.current) {
        // Revoking this device is logging out: end it and clear the cookie.
        await logout();
        onSignedOut('You have signed out.');
        navigate('/login', { replace: true });
        return;
      }
      const res = await fetch(`/api/auth/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
      if (!res.ok && res.status !== 404) throw await failure(res);
      setSessions((prev) => prev?.filter((x) => x.id !== s.id) ?? null);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(null);
    }
  };

  const everywhere = async () => {
    setBusy('all');
    setError(null);
    try {
      await logoutAll();
      onSignedOut('You have signed out on every device.');
      navigate('/login', { replace: true });
    } catch (err) {
      setError(describe(err));
      setBusy(null);
    }
  };

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Sessions
      </h1>
      <section className="card" aria-labelledby="sessions-title">
        <h2 id="sessions-title">Where you are signed in</h2>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {loading && !sessions && (
          <p className="loading" role="status">
            Loading sessions…
          </p>
        )}
        {sessions && (
          <table className="sessions">
            <caption className="visually-hidden">Your active sessions</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Address</th>
                <th scope="col">Last used</th>
                <th scope="col">Signed in</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.id} className={s.current ? 'current' : undefined}>
                  <th scope="row">
                    {device(s.user_agent)}
                    {s.current && <span className="badge">This device</span>}
                  </th>
                  <td data-label="Address">{s.ip || '—'}</td>
                  <td data-label="Last used">
                    <time dateTime={s.last_used_at}>{formatTime(s.last_used_at)}</time>
                  </td>
                  <td data-label="Signed in">
                    <time dateTime={s.created_at}>{formatTime(s.created_at)}</time>
                  </td>
                  <td>
                    <button
                      type="button"
                      className="danger small"
                      onClick={() => void revoke(s)}
                      disabled={busy !== null}
                      aria-label={s.current ? 'Revoke this device’s session' : `Revoke session on ${device(s.user_agent)} from ${s.ip || 'an unknown address'}`}
                    >
                      {busy === s.id ? 'Revoking…' : 'Revoke'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="actions">
          <button type="button" className="danger" onClick={() => void everywhere()} disabled={busy !== null}>
            Log out everywhere
          </button>
          {busy === 'all' && (
            <span className="pending" role="status">
              Signing out everywhere…
            </span>
          )}
        </div>
      </section>
    </>
  );
}
