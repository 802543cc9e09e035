import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createAuthClient } from '@gatehouse/client';
import { AuthProvider } from '@gatehouse/react';
import { App } from './App';
import { chosenStorage } from './storage';
import './app.css';

// By default the cookie strategy: the refresh token stays in Gatehouse's
// HttpOnly cookie, the access token in memory (CONTRACT §5).
const client = createAuthClient({ storage: chosenStorage() });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider client={client}>
      <App />
    </AuthProvider>
  </StrictMode>,
);
