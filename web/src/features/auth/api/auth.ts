import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, unwrapEmpty } from '../../../api/client';
import type { SessionInfo, SetupRequest } from '../../../api/types';
import { acceptSession } from '../../../shared/session';

export function useLogin() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { email: string; password: string }): Promise<SessionInfo> => unwrap(api.POST('/api/auth/login', { body })),
    onSuccess: (info) => acceptSession(client, info),
  });
}

export function useSetup() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: SetupRequest): Promise<SessionInfo> => unwrap(api.POST('/api/setup', { body })),
    onSuccess: (info) => acceptSession(client, info),
  });
}

/** Forgotten password: the server e-mails a link if the address has an account (same answer either way). */
export function useRequestPasswordReset() {
  return useMutation({
    mutationFn: async (email: string): Promise<void> => {
      await unwrap(api.POST('/api/auth/password-reset', { body: { email } }));
    },
  });
}

/** Set a new password with the token of a reset link. */
export function useCompletePasswordReset() {
  return useMutation({
    mutationFn: (body: { token: string; new_password: string }): Promise<void> => unwrapEmpty(api.POST('/api/auth/password-reset/complete', { body })),
  });
}
