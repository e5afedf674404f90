import { createContext, useContext } from 'react';
import { useQuery, type QueryClient } from '@tanstack/react-query';
import { api, ApiError, setCsrfToken, unwrap } from '../../api/client';
import type { SessionInfo, UserSession } from '../../api/types';

export const SESSION_KEY = ['session'] as const;
export const SETUP_KEY = ['setup-status'] as const;

/** The signed-in session, or null when nobody is signed in. */
export async function fetchSession(): Promise<SessionInfo | null> {
  try {
    const info = await unwrap(api.GET('/api/auth/me'));
    setCsrfToken(info.csrf_token ?? null);
    return info;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw err;
  }
}

/**
 * `meta_sandbox`: Meta is the local sandbox (`crm demo`, `--meta-sandbox`);
 * `needs_setup_token`: production's first-run setup needs the token `crm serve` printed.
 */
export async function fetchSetupStatus(): Promise<{ needs_setup: boolean; meta_sandbox?: boolean; needs_setup_token?: boolean }> {
  return unwrap(api.GET('/api/setup'));
}

export function useSessionQuery() {
  return useQuery({ queryKey: SESSION_KEY, queryFn: fetchSession, staleTime: 60_000, retry: false });
}

export function useSetupStatus() {
  return useQuery({ queryKey: SETUP_KEY, queryFn: fetchSetupStatus, staleTime: Infinity, retry: false });
}

/** Store a fresh session (after login or setup) in the cache. */
export function acceptSession(client: QueryClient, info: SessionInfo): void {
  setCsrfToken(info.csrf_token ?? null);
  client.setQueryData(SESSION_KEY, info);
  client.setQueryData(SETUP_KEY, (old: { meta_sandbox?: boolean } | undefined) => ({ ...old, needs_setup: false }));
}

/** Forget everything cached for the previous user. */
export function clearSession(client: QueryClient): void {
  setCsrfToken(null);
  // Keep the session query itself (mounted gates observe it) and set it to
  // null; drop every other cached answer, which belonged to the old user.
  client.setQueryData(SESSION_KEY, null);
  client.removeQueries({ predicate: (q) => q.queryKey[0] !== SETUP_KEY[0] && q.queryKey[0] !== SESSION_KEY[0] });
}

/**
 * The signed-in session, provided by the authenticated route gate. Reading it
 * from context (not from the query) means pages never see it turn null while
 * they unmount after a logout.
 */
export const SessionContext = createContext<UserSession | null>(null);

/** The current session. Only valid below the authenticated layout. */
export function useSession(): UserSession {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession used outside an authenticated route');
  return session;
}

export function hasPermission(session: Pick<SessionInfo, 'permissions'> | null | undefined, permission?: string): boolean {
  if (!permission) return true;
  return (session?.permissions as readonly string[] | undefined)?.includes(permission) ?? false;
}

export function usePermission(permission?: string): boolean {
  const session = useSession();
  return hasPermission(session, permission);
}

/** End the session on the server, then forget it locally. */
export async function logout(client: QueryClient): Promise<void> {
  try {
    await unwrap(api.POST('/api/auth/logout'));
  } finally {
    clearSession(client);
  }
}
