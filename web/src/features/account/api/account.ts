import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, unwrapEmpty } from '../../../api/client';
import type { PasswordChange } from '../../../api/types';

export const SESSIONS_KEY = ['account', 'sessions'] as const;

/** The caller's live sessions, most recent first. */
export function useSessions() {
  return useQuery({ queryKey: SESSIONS_KEY, queryFn: async () => (await unwrap(api.GET('/api/auth/sessions'))).items });
}

/** Change your own password; the server signs out your other sessions. */
export function useChangePassword() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: PasswordChange): Promise<void> => unwrapEmpty(api.POST('/api/auth/password', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: SESSIONS_KEY }),
  });
}

/** Sign out one session (another device). */
export function useRevokeSession() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string): Promise<void> => unwrapEmpty(api.DELETE('/api/auth/sessions/{id}', { params: { path: { id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: SESSIONS_KEY }),
  });
}

/** Sign out every session but this one; answers how many ended. */
export function useRevokeOtherSessions() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (): Promise<number> => (await unwrap(api.POST('/api/auth/sessions/revoke-others'))).revoked,
    onSettled: () => client.invalidateQueries({ queryKey: SESSIONS_KEY }),
  });
}
