import type { StorageStrategy } from '@gatehouse/client';

// The demo can run with any of the SDK's storage strategies, to compare
// them: /login?storage=localStorage switches (and remembers the choice for
// every tab of this browser). The default is the SDK's: cookie.
const KEY = 'gatehouse-demo.storage';
const STRATEGIES: readonly StorageStrategy[] = ['cookie', 'localStorage', 'sessionStorage', 'memory'];

function valid(v: string | null): v is StorageStrategy {
  return v !== null && (STRATEGIES as readonly string[]).includes(v);
}

export function chosenStorage(): StorageStrategy {
  const asked = new URLSearchParams(location.search).get('storage');
  try {
    if (valid(asked)) {
      localStorage.setItem(KEY, asked);
      return asked;
    }
    const saved = localStorage.getItem(KEY);
    if (valid(saved)) return saved;
  } catch {
    // Storage disabled: the default it is.
  }
  return 'cookie';
}

export const storageNotes: Record<StorageStrategy, string> = {
  cookie: 'refresh token in an HttpOnly cookie, access token in memory',
  localStorage: 'both tokens in localStorage, readable by any script on this origin',
  sessionStorage: 'both tokens in this tab’s sessionStorage',
  memory: 'tokens in memory only; a reload signs you out',
};
