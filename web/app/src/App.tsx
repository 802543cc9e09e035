import { useEffect, useState, type ReactNode } from 'react';
import { RequireAuth, useAuth } from '@gatehouse/react';
import { Link, navigate, useLocation } from './router';
import { LoginPage } from './pages/Login';
import { RegisterPage } from './pages/Register';
import { DashboardPage } from './pages/Dashboard';
import { SessionsPage } from './pages/Sessions';
import { NotFoundPage } from './pages/NotFound';
import { SettingsPage } from './pages/Settings';
import { AccountPage } from './pages/Account';
import { SecurityPage } from './pages/Security';
import { AdminPage } from './pages/Admin';
import { ConfirmEmailPage, VerifyEmailPage } from './pages/EmailLinks';
import { ForgotPasswordPage, ResetPasswordPage } from './pages/PasswordReset';
import { VerifyBanner } from './VerifyBanner';
import { storageNotes } from './storage';

function toLogin(loginPath: string, returnTo: string) {
  navigate(`${loginPath}?next=${encodeURIComponent(returnTo)}`, { replace: true });
}

function Checking() {
  return (
    <p className="loading" role="status">
      Checking your session…
    </p>
  );
}

function Protected({ children }: { children: ReactNode }) {
  return (
    <RequireAuth loading={<Checking />} redirect={toLogin}>
      {children}
    </RequireAuth>
  );
}

export function App() {
  const { status, user, error, logout, client } = useAuth();
  const { pathname } = useLocation();
  const [notice, setNotice] = useState<string | null>(null);
  const [leaving, setLeaving] = useState(false);

  // Seed 000, "refresh token expiry": the session is over, so clear and go
  // to /login. RequireAuth would redirect too; this adds the reason.
  useEffect(() => {
    const offExpired = client.on('sessionExpired', () => {
      setNotice('Your session has ended. Please log in again.');
      const here = location.pathname + location.search;
      navigate(pathname === '/login' ? here : `/login?next=${encodeURIComponent(here)}`, { replace: true });
    });
    const offOut = client.on('signedOut', ({ reason }) => {
      if (reason === 'remote') {
        setNotice('You were signed out in another tab.');
        navigate('/login', { replace: true });
      }
    });
    const offIn = client.on('signedIn', () => setNotice(null));
    return () => {
      offExpired();
      offOut();
      offIn();
    };
  }, [client, pathname]);

  const onLogout = async () => {
    setLeaving(true);
    try {
      await logout();
      setNotice('You have signed out.');
      navigate('/login', { replace: true });
    } finally {
      setLeaving(false);
    }
  };

  let page: ReactNode;
  switch (pathname) {
    case '/':
      // Signed out, straight to the login form (no "log in to see that
      // page": nobody asked for one).
      page = status === 'loading' ? <Checking /> : <Redirect to={status === 'authenticated' ? '/dashboard' : '/login'} />;
      break;
    case '/login':
      page = <LoginPage notice={notice} />;
      break;
    case '/register':
      page = <RegisterPage />;
      break;
    case '/settings':
      page = <SettingsPage />;
      break;
    // The links of Gatehouse's mails (CONTRACT §7); the token is in the fragment.
    case '/forgot-password':
      page = <ForgotPasswordPage />;
      break;
    case '/reset-password':
      page = <ResetPasswordPage />;
      break;
    case '/verify-email':
      page = <VerifyEmailPage />;
      break;
    case '/confirm-email':
      page = <ConfirmEmailPage />;
      break;
    case '/account':
      page = (
        <Protected>
          <AccountPage />
        </Protected>
      );
      break;
    case '/security':
      page = (
        <Protected>
          <SecurityPage />
        </Protected>
      );
      break;
    case '/dashboard':
      page = (
        <Protected>
          <DashboardPage />
        </Protected>
      );
      break;
    case '/admin':
      page = (
        <Protected>
          <AdminPage />
        </Protected>
      );
      break;
    case '/sessions':
      page = (
        <Protected>
          <SessionsPage onSignedOut={setNotice} />
        </Protected>
      );
      break;
    default:
      page = <NotFoundPage />;
  }

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          Gatehouse
        </Link>
        {/* Signed out, only the pages a visitor can use; while the session
            is still being checked, only Settings (it works either way). */}
        <nav aria-label="Main">
          {status === 'authenticated' ? (
            <>
              <Link to="/dashboard">Dashboard</Link>
              <Link to="/sessions">Sessions</Link>
              <Link to="/account">Account</Link>
              <Link to="/security">Security</Link>
              {/* Only a hint: the admin API refuses anyone else (CONTRACT §9). */}
              {user?.role === 'admin' && <Link to="/admin">Admin</Link>}
            </>
          ) : status === 'unauthenticated' ? (
            <>
              <Link to="/login">Log in</Link>
              <Link to="/register">Create account</Link>
            </>
          ) : null}
          <Link to="/settings">Settings</Link>
        </nav>
        <div className="account">
          {status === 'authenticated' && user ? (
            <>
              <span className="who">
                Signed in as <strong>{user.name || user.email}</strong>
              </span>
              <button type="button" className="secondary" onClick={onLogout} disabled={leaving}>
                Log out
              </button>
            </>
          ) : status === 'unauthenticated' ? (
            <span className="who">Not signed in</span>
          ) : null}
        </div>
      </header>
      {error && (
        <p className="banner" role="status">
          Can’t reach the server. Your session is kept; retrying…
        </p>
      )}
      {pathname !== '/verify-email' && <VerifyBanner />}
      <main id="main">{page}</main>
      <footer className="foot">
        Token storage: <strong>{client.storage}</strong> — {storageNotes[client.storage]}
      </footer>
    </>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
