import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../../api/client';
import type { SessionInfo, Tenant, UpdateTenantRequest } from '../../../api/types';
import { SESSION_KEY } from '../../../shared/session';

const TENANT_KEY = ['tenant'] as const;

export function useTenant() {
  return useQuery({ queryKey: TENANT_KEY, queryFn: (): Promise<Tenant> => unwrap(api.GET('/api/tenant')) });
}

export function useUpdateTenant() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: UpdateTenantRequest): Promise<Tenant> => unwrap(api.PATCH('/api/tenant', { body })),
    onSuccess: (tenant) => {
      client.setQueryData(TENANT_KEY, tenant);
      // The layout shows the tenant from the session; keep it in step.
      client.setQueryData<SessionInfo | null>(SESSION_KEY, (s) => (s ? { ...s, tenant } : s));
    },
  });
}
