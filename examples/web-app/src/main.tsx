import { StrictMode, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { AuthError, createAuthClient } from '@gatehouse/client';
import { AuthProvider, useAuth } from '@gatehouse/react';

// Where Gatehouse runs, fixed at build time (VITE_GATEHOUSE_URL=https://auth.example.com
// npm run build); unset, the app expects Gatehouse on its own origin. On
// another origin Gatehouse must list this app's in --cors-origins.
const client = createAuthClient({ baseUrl: import.meta.env.VITE_GATEHOUSE_URL ?? '' });

function App() {
  const { status, user, login, logout } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await login(email, password);
    } catch (err) {
      // AuthError carries the server's stable code (invalid_credentials, rate_limited, ...).
      setError(err instanceof AuthError ? `${err.code}: ${err.message}` : String(err));
    }
  };

  if (status === 'loading') return <p>Checking your session…</p>;
  if (status === 'authenticated' && user) {
    return (
      <main>
        <p>Signed in as {user.email}</p>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </main>
    );
  }
  return (
    <main>
      <h1>Log in</h1>
      <form onSubmit={submit}>
        <label>
          Email <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <label>
          Password <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <button type="submit">Log in</button>
      </form>
      {error && <p role="alert">{error}</p>}
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider client={client}>
      <App />
    </AuthProvider>
  </StrictMode>,
);
