import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { createAuthClient, type AuthClient } from '@gatehouse/client';
import { AuthProvider } from '../src/index.js';

// What the hooks' tests share: a client on a fake Gatehouse, a component
// rendered inside AuthProvider, and the clean-up after each test.

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export const PASSWORD = 'correct horse battery staple';
const clients: AuthClient[] = [];
const roots: Root[] = [];

/** cleanUp unmounts what render mounted and disposes of the clients; call it in afterEach. */
export function cleanUp(): void {
  act(() => roots.splice(0).forEach((r) => r.unmount()));
  for (const c of clients.splice(0)) c.dispose();
  document.body.innerHTML = '';
}

/** client is an SDK client of a fake Gatehouse, its tokens in memory. */
export function client(server: { origin: string; fetch: unknown }): AuthClient {
  const c = createAuthClient({ baseUrl: server.origin, storage: 'memory', fetch: server.fetch as typeof fetch, proactive: false, visibility: null });
  clients.push(c);
  return c;
}

/** render mounts ui inside an AuthProvider of c. */
export async function render(c: AuthClient, ui: React.ReactNode): Promise<HTMLElement> {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  await act(async () => root.render(<AuthProvider client={c}>{ui}</AuthProvider>));
  return el;
}

/** text is the text of the element with the id, or "". */
export function text(el: HTMLElement, id: string): string {
  return el.querySelector(`#${id}`)?.textContent ?? '';
}

/** click clicks the button with the id and lets React settle. */
export async function click(el: HTMLElement, id: string): Promise<void> {
  await act(async () => {
    (el.querySelector(`#${id}`) as HTMLButtonElement).click();
  });
  await act(async () => undefined);
}
