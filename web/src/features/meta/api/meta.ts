import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../../api/client';
import type { components } from '../../../api/schema';

type Schemas = components['schemas'];
export type TokenStatus = Schemas['TokenStatus'];
export type Portfolio = Schemas['Portfolio'];
export type AdAccountOption = Schemas['AdAccountOption'];
export type WabaOption = Schemas['WabaOption'];
export type LeadPageOption = Schemas['LeadPageOption'];
export type ConnectionTest = Schemas['ConnectionTest'];
export type TokenMetadata = Schemas['TokenMetadata'];
export type ConnectAdAccount = Schemas['ConnectAdAccount'];

export const TOKEN_STATUS_KEY = ['meta', 'token-status'] as const;

/** The Meta connection's health (banner, settings, wizard). */
export function useTokenStatus(enabled = true) {
  return useQuery({
    queryKey: TOKEN_STATUS_KEY,
    queryFn: () => unwrap(api.GET('/api/crm/marketing/token-status')),
    enabled,
    staleTime: 30_000,
  });
}

/** Starts OAuth: asks the server for Meta's dialog URL and goes there. */
export function useStartOAuth() {
  return useMutation({
    mutationFn: async (returnTo: 'marketing' | 'settings') => {
      const { url } = await unwrap(api.GET('/api/crm/auth/meta/url', { params: { query: { return_to: returnTo } } }));
      window.location.assign(url);
      return url;
    },
  });
}

export function usePortfolios(enabled: boolean) {
  return useQuery({
    queryKey: ['meta', 'portfolios'],
    queryFn: async () => (await unwrap(api.GET('/api/crm/marketing/meta-portfolios'))).items,
    enabled,
  });
}

export function useAdAccounts(portfolioId: string | null) {
  return useQuery({
    queryKey: ['meta', 'ad-accounts', portfolioId],
    queryFn: async () =>
      (await unwrap(api.GET('/api/crm/marketing/meta-accounts', { params: { query: { portfolio_id: portfolioId ?? undefined } } }))).items,
    enabled: portfolioId !== null,
  });
}

export function useWhatsAppAccounts(portfolioId: string | null, enabled: boolean) {
  return useQuery({
    queryKey: ['meta', 'whatsapp', portfolioId],
    queryFn: async () =>
      (await unwrap(api.GET('/api/crm/marketing/whatsapp', { params: { query: { portfolio_id: portfolioId ?? undefined } } }))).items,
    enabled,
  });
}

export function useLeadPages(enabled: boolean) {
  return useQuery({
    queryKey: ['meta', 'lead-pages'],
    queryFn: async () => (await unwrap(api.GET('/api/crm/marketing/lead-pages'))).items,
    enabled,
  });
}

function useStatusMutation<T>(fn: (input: T) => Promise<TokenStatus>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (status) => client.setQueryData(TOKEN_STATUS_KEY, status),
  });
}

export function useConnectAdAccount() {
  return useStatusMutation((body: ConnectAdAccount) => unwrap(api.POST('/api/crm/marketing/connect', { body })));
}

export function useSelectWhatsApp() {
  return useStatusMutation((body: { waba_id: string; phone_number_ids: string[] }) =>
    unwrap(api.POST('/api/crm/marketing/whatsapp', { body })),
  );
}

export function useSelectPages() {
  return useStatusMutation((page_ids: string[]) => unwrap(api.POST('/api/crm/marketing/lead-pages', { body: { page_ids } })));
}

export function useSystemUserToken() {
  return useStatusMutation((token: string) => unwrap(api.POST('/api/crm/auth/meta/system-user-token', { body: { token } })));
}

/** Live check; the status may change (e.g. to expired), so the banner refreshes. */
export function useTestConnection() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.GET('/api/crm/auth/meta/test-connection')),
    onSettled: () => client.invalidateQueries({ queryKey: TOKEN_STATUS_KEY }),
  });
}

export function useDisconnect() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.POST('/api/crm/auth/meta/disconnect')),
    onSettled: () => client.invalidateQueries({ queryKey: ['meta'] }),
  });
}
