import type { AuditEvent } from '@gatehouse/client';
import { formatTime } from './hooks';
import { device } from './pages/Sessions';

// The audit log's event types (CONTRACT §9) in words, for the user's own
// "Recent security activity" and for an admin reading a user's history.
const words: Record<string, string> = {
  'user.registered': 'Account created',
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in attempt',
  'login.rate_limited': 'Sign-in attempts slowed down (too many)',
  'refresh.reused': 'Old session token reused: session ended as a precaution',
  'session.revoked': 'Session ended',
  'password.changed': 'Password changed',
  'password.reset_requested': 'Password reset requested',
  'password.reset': 'Password reset',
  'email.verified': 'Email address verified',
  'email.changed': 'Email address changed',
  'mfa.enrolled': 'Authenticator app set up',
  'mfa.removed': 'Second factors removed',
  'mfa.failed': 'Wrong second-factor code',
  'recovery_code.used': 'Recovery code used',
  'recovery_codes.regenerated': 'New recovery codes made',
  'passkey.added': 'Passkey added',
  'passkey.removed': 'Passkey removed',
  'user.updated': 'Account changed by an administrator',
  'user.deleted': 'Account deleted',
  'user.disabled': 'Account disabled by an administrator',
  'user.enabled': 'Account enabled by an administrator',
};

/** eventWords says what an event type means; an unknown (newer) type is shown as it is. */
export function eventWords(type: string): string {
  return words[type] ?? type;
}

/** EventList shows audit events, newest first: what, when, from which address and device. */
export function EventList({ events, label, testId }: { events: AuditEvent[]; label: string; testId?: string }) {
  if (events.length === 0) return <p className="empty">Nothing yet.</p>;
  return (
    <ul className="feed events" aria-label={label} data-testid={testId}>
      {events.map((e) => (
        <li key={e.id}>
          <strong className="what">{eventWords(e.type)}</strong>
          <p className="meta">
            <time dateTime={e.at}>{formatTime(e.at)}</time>
            {' · '}
            {e.ip || 'unknown address'}
            {' · '}
            {device(e.user_agent)}
            {e.detail.reason ? ` · ${e.detail.reason.replace(/_/g, ' ')}` : ''}
          </p>
        </li>
      ))}
    </ul>
  );
}
