import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../../api/client';
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
