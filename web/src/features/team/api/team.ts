import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../../api/client';
import type { CreateUserRequest, ResetIssued, UpdateUserRequest, User } from '../../../api/types';

const TEAM_KEY = ['team'] as const;

export function useTeam() {
  return useQuery({ queryKey: TEAM_KEY, queryFn: async () => (await unwrap(api.GET('/api/team'))).items });
}

export function useCreateUser() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateUserRequest): Promise<User> => unwrap(api.POST('/api/team', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: TEAM_KEY }),
  });
}

export function useUpdateUser() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, patch }: { id: string; patch: UpdateUserRequest }): Promise<User> =>
      unwrap(api.PATCH('/api/team/{id}', { params: { path: { id } }, body: patch })),
    onSuccess: (user) => {
      client.setQueryData<User[]>(TEAM_KEY, (list) => list?.map((u) => (u.id === user.id ? user : u)));
      void client.invalidateQueries({ queryKey: TEAM_KEY });
    },
  });
}

/** Issue a one-time password reset link for a team member (e-mailed, or returned to hand over). */
export function useResetMemberPassword() {
  return useMutation({
    mutationFn: (id: string): Promise<ResetIssued> => unwrap(api.POST('/api/team/{id}/password-reset', { params: { path: { id } } })),
  });
}
