'use client';

import { createContext, useContext } from 'react';
import type { AuthClient } from '@gatehouse/client';

/** AuthContext carries the AuthProvider's client. */
export const AuthContext = createContext<AuthClient | null>(null);

/** useAuthClient returns the provider's AuthClient; it throws outside an AuthProvider. */
export function useAuthClient(): AuthClient {
  const client = useContext(AuthContext);
  if (!client) throw new Error('useAuth must be used inside <AuthProvider>');
  return client;
}
