import type { StorageStrategy } from '@gatehouse/client';

// The demo can run with any of the SDK's storage strategies, to compare
// them. The choice is made on the Settings page only, never from a link: a
// `?storage=` in a URL someone sent must not move this browser's tokens to
// a place where scripts can read them (issue 16; OWASP HTML5 Security Cheat
// Sheet, "Local Storage": a single XSS reads all of it). The default is the
// SDK's: the cookie transport.
const KEY = 'gatehouse-demo.token-storage';
// Where an earlier version kept a choice that a link could make; it is
// dropped rather than honoured.
const OLD_KEY = 'gatehouse-demo.storage';
export const STRATEGIES: readonly StorageStrategy[] = ['cookie', 'localStorage', 'sessionStorage', 'memory'];

function valid(v: string | null): v is StorageStrategy {
  return v !== null && (STRATEGIES as readonly string[]).includes(v);
}

/** chosenStorage is the strategy picked on the Settings page, or cookie. */
export function chosenStorage(): StorageStrategy {
  try {
    localStorage.removeItem(OLD_KEY);
    const saved = localStorage.getItem(KEY);
    if (valid(saved)) return saved;
  } catch {
    // Storage disabled: the default it is.
  }
  return 'cookie';
}

/** saveStorage records the strategy for every tab of this browser; it applies from the next page load. */
export function saveStorage(s: StorageStrategy): void {
  try {
    if (s === 'cookie') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, s);
  } catch {
    // Storage disabled: the default stays.
  }
}

export const storageNotes: Record<StorageStrategy, string> = {
  cookie: 'refresh token in an HttpOnly cookie, access token in memory',
  localStorage: 'both tokens in localStorage, readable by any script on this origin',
  sessionStorage: 'both tokens in this tab’s sessionStorage',
  memory: 'tokens in memory only; a reload signs you out',
};
