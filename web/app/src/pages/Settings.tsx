import { useState, type FormEvent } from 'react';
import type { StorageStrategy } from '@gatehouse/client';
import { useAuth } from '@gatehouse/react';
import { usePageTitle } from '../hooks';
import { STRATEGIES, saveStorage, storageNotes } from '../storage';

/**
 * SettingsPage picks the SDK's token storage for this browser. Saving a
 * different one signs out first (the tokens of the old place must not stay
 * behind), then reloads the app, which creates its client with the new
 * strategy.
 */
export function SettingsPage() {
  const heading = usePageTitle('Settings');
  const { client, status, logout } = useAuth();
  const [choice, setChoice] = useState<StorageStrategy>(client.storage);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (choice === client.storage) return;
    setBusy(true);
    try {
      if (status === 'authenticated') await logout();
      saveStorage(choice);
      location.reload();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card narrow" aria-labelledby="settings-title">
      <h1 id="settings-title" ref={heading} tabIndex={-1}>
        Settings
      </h1>
      <form onSubmit={submit}>
        <fieldset className="choices">
          <legend>Token storage</legend>
          {STRATEGIES.map((s) => (
            <div className="choice" key={s}>
              <input
                type="radio"
                id={`storage-${s}`}
                name="storage"
                value={s}
                checked={choice === s}
                onChange={() => setChoice(s)}
                aria-describedby={`storage-${s}-note`}
              />
              <label htmlFor={`storage-${s}`}>
                {s}
                {s === 'cookie' ? ' (default)' : ''}
              </label>
              <p id={`storage-${s}-note`} className="hint">
                {storageNotes[s]}
              </p>
            </div>
          ))}
        </fieldset>
        <p className="hint">
          In use now: <strong>{client.storage}</strong>. Saving another one signs you out and reloads the app. Only the cookie keeps
          the refresh token out of reach of the page’s scripts.
        </p>
        <div className="actions">
          <button type="submit" disabled={busy || choice === client.storage} aria-busy={busy}>
            Save
          </button>
        </div>
      </form>
    </section>
  );
}
