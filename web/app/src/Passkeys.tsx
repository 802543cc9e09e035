import { useState, type FormEvent } from 'react';
import type { Passkey } from '@gatehouse/client';
import { usePasskeys } from '@gatehouse/react';
import { describe, passkeyProblem } from './errors';
import { formatTime } from './hooks';
import { useStepUpGuard } from './StepUp';

/**
 * PasskeysSection lists the account's passkeys and adds, renames and
 * removes them. Adding one once the account has a second factor, and
 * removing one, need an aal2 session: from an aal1 one the step-up prompt
 * asks for a factor first (RFC 9470).
 */
export function PasskeysSection({ onChanged }: { onChanged(message: string): void }) {
  const { list, add, rename, remove } = usePasskeys();
  const { guard, prompting, prompt } = useStepUpGuard();
  const [name, setName] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const problem = passkeyProblem();
  const error = add.error ?? remove.error ?? rename.error;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    remove.reset();
    rename.reset();
    try {
      const p = await guard(() => add.runAsync(name));
      setName('');
      onChanged(`Passkey “${p.name}” added.`);
    } catch {
      // Shown from add.error.
    }
  };

  const drop = async (p: Passkey) => {
    add.reset();
    rename.reset();
    try {
      await guard(() => remove.runAsync(p.id));
      onChanged(`Passkey “${p.name}” removed.`);
    } catch {
      // Shown from remove.error.
    }
  };

  return (
    <>
      <h2 id="passkeys-title">Passkeys</h2>
      <p className="hint">A passkey signs you in with your device’s fingerprint, face or screen lock, with no password to type.</p>
      {problem && (
        <p className="notice" role="status" data-testid="passkey-problem">
          {problem}
        </p>
      )}
      {list.data && list.data.length === 0 && <p className="empty">No passkeys yet.</p>}
      {list.data && list.data.length > 0 && (
        <ul className="passkeys" aria-labelledby="passkeys-title" data-testid="passkey-list">
          {list.data.map((p) => (
            <li key={p.id}>
              {editing === p.id ? (
                <RenameForm passkey={p} busy={rename.pending} onCancel={() => setEditing(null)} onSave={(n) => rename.runAsync(p.id, n).then(() => setEditing(null))} />
              ) : (
                <strong className="passkey-name">{p.name}</strong>
              )}
              <span className="meta">
                Added {formatTime(p.created_at)} · {p.last_used_at ? `Last used ${formatTime(p.last_used_at)}` : 'Never used'} ·{' '}
                {p.synced ? 'Synced to your other devices' : 'On this device only'}
              </span>
              {editing !== p.id && (
                <span className="actions">
                  <button type="button" className="secondary small" onClick={() => setEditing(p.id)} aria-label={`Rename ${p.name}`}>
                    Rename
                  </button>
                  <button type="button" className="danger small" disabled={remove.pending} onClick={() => drop(p)} aria-label={`Remove ${p.name}`}>
                    Remove
                  </button>
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      {list.error && (
        <p className="error" role="alert">
          {describe(list.error)}
        </p>
      )}
      <form onSubmit={create} aria-labelledby="passkeys-title">
        <label htmlFor="passkey-name">Passkey name (optional)</label>
        <input id="passkey-name" autoComplete="off" maxLength={100} placeholder="e.g. Work laptop" value={name} onChange={(e) => setName(e.target.value)} />
        {error && !prompting && (
          <p className="error" role="alert">
            {describe(error)}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={add.pending || problem !== null} aria-busy={add.pending}>
            Add a passkey
          </button>
          {add.pending && (
            <span className="pending" role="status">
              Follow your browser’s prompt…
            </span>
          )}
        </div>
      </form>
      {prompt}
    </>
  );
}

function RenameForm({ passkey, busy, onSave, onCancel }: { passkey: Passkey; busy: boolean; onSave(name: string): Promise<unknown>; onCancel(): void }) {
  const [value, setValue] = useState(passkey.name);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSave(value.trim()).catch(() => undefined);
  };
  const id = `rename-${passkey.id}`;
  return (
    <form className="inline" onSubmit={submit}>
      <label htmlFor={id}>New name for {passkey.name}</label>
      <input id={id} required maxLength={100} value={value} onChange={(e) => setValue(e.target.value)} />
      <button type="submit" className="small" disabled={busy}>
        Save
      </button>
      <button type="button" className="secondary small" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}
