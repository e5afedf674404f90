import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, unwrapEmpty } from '../../../api/client';
import type { components } from '../../../api/schema';
import { statsParams, type HubFilters } from '../lib/range';

type Schemas = components['schemas'];
export type MarketingStats = Schemas['MarketingStats'];
export type RoiBreakdown = Schemas['RoiBreakdown'];
export type CampaignList = Schemas['CampaignList'];
export type CampaignStat = Schemas['CampaignStat'];
export type CampaignDetail = Schemas['CampaignDetail'];
export type AdStat = Schemas['AdStat'];
export type CampaignInsights = Schemas['CampaignInsights'];
export type SyncState = Schemas['SyncStateView'];
export type Warning = Schemas['Warning'];
export type CurrencyAmount = Schemas['CurrencyAmount'];
export type LedgerEntry = Schemas['LedgerEntry'];
export type FxRate = Schemas['FxRate'];
export type FxRateInput = Schemas['FxRateInput'];
export type Period = Schemas['Period'];
export type Figures = Schemas['Figures'];

/** Every query of the hub lives under this key, so a finished sync refreshes them all at once. */
export const MARKETING_KEY = ['marketing'] as const;
export const SYNC_KEY = ['marketing', 'sync'] as const;

export function useStats(f: HubFilters) {
  return useQuery({
    queryKey: ['marketing', 'stats', f],
    queryFn: () => unwrap(api.GET('/api/crm/marketing/stats', { params: { query: statsParams(f) } })),
    // A new period keeps showing the last numbers (dimmed) until the new ones arrive.
    placeholderData: keepPreviousData,
  });
}

/** Stats of an explicit period (the comparison period, for the CPL and CPA changes the API has no field for). */
export function usePeriodStats(period: Period | undefined, model: HubFilters['model']) {
  return useQuery({
    queryKey: ['marketing', 'stats', 'period', period, model],
    queryFn: () => unwrap(api.GET('/api/crm/marketing/stats', { params: { query: { since: period?.since, until: period?.until, model } } })),
    enabled: period !== undefined,
  });
}

export function useRoi(f: HubFilters) {
  return useQuery({
    queryKey: ['marketing', 'roi', f],
    queryFn: () => unwrap(api.GET('/api/crm/marketing/stats/roi', { params: { query: statsParams(f) } })),
    // A new period keeps showing the last numbers (dimmed) until the new ones arrive.
    placeholderData: keepPreviousData,
  });
}

export function useCampaigns(f: HubFilters, status: string) {
  return useQuery({
    queryKey: ['marketing', 'campaigns', f, status],
    queryFn: () =>
      unwrap(api.GET('/api/crm/marketing/campaigns', { params: { query: { ...statsParams(f), ...(status ? { status } : {}) } } })),
    // A new period keeps showing the last numbers (dimmed) until the new ones arrive.
    placeholderData: keepPreviousData,
  });
}

export function useCampaign(id: string, f: HubFilters) {
  return useQuery({
    queryKey: ['marketing', 'campaign', id, f],
    queryFn: () => unwrap(api.GET('/api/crm/marketing/campaigns/{id}', { params: { path: { id }, query: statsParams(f) } })),
  });
}

export function useCampaignInsights(id: string, f: HubFilters) {
  return useQuery({
    queryKey: ['marketing', 'campaign-insights', id, f],
    queryFn: () => unwrap(api.GET('/api/crm/marketing/campaigns/{id}/insights', { params: { path: { id }, query: statsParams(f) } })),
  });
}

/** Whether a sync is under way somewhere (then the status is polled). */
export function syncBusy(states: readonly SyncState[] | undefined): boolean {
  return !!states?.some((s) => s.status === 'running' || s.status === 'pending' || (!s.backfill_done && s.status !== 'error'));
}

/** Until when the sync status is polled fast after a "sync now" (the queued job may not have started yet). */
let watchUntil = 0;

export function useSyncStatus(enabled = true) {
  return useQuery({
    queryKey: SYNC_KEY,
    queryFn: () => unwrap(api.GET('/api/crm/marketing/sync')),
    enabled,
    refetchInterval: (q) => (syncBusy(q.state.data) || Date.now() < watchUntil ? 3_000 : 60_000),
  });
}

export function useSyncNow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.POST('/api/crm/marketing/sync')),
    onSuccess: (states) => {
      watchUntil = Date.now() + 120_000;
      client.setQueryData(SYNC_KEY, states);
      void client.invalidateQueries({ queryKey: SYNC_KEY });
    },
  });
}

export function useCapiLedger(status: string) {
  return useInfiniteQuery({
    queryKey: ['marketing', 'capi', status],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET('/api/crm/marketing/capi/events', { params: { query: { limit: 50, ...(status ? { status } : {}), ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export const FX_KEY = ['marketing', 'fx'] as const;

export function useFxRates(from: string) {
  return useInfiniteQuery({
    queryKey: [...FX_KEY, from],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET('/api/crm/marketing/fx-rates', { params: { query: { limit: 100, ...(from ? { from_currency: from } : {}), ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** FX rates change every converted amount: refresh the numbers too. */
function useFxMutation<I, O>(fn: (input: I) => Promise<O>) {
  const client = useQueryClient();
  return useMutation({ mutationFn: fn, onSuccess: () => client.invalidateQueries({ queryKey: MARKETING_KEY }) });
}

export function usePutFx() {
  return useFxMutation((body: FxRateInput) => unwrap(api.PUT('/api/crm/marketing/fx-rates', { body })));
}

export function useDeleteFx() {
  return useFxMutation((id: string) => unwrapEmpty(api.DELETE('/api/crm/marketing/fx-rates/{id}', { params: { path: { id } } })));
}

export function useImportFx() {
  return useFxMutation((csv: string) =>
    unwrap(
      api.POST('/api/crm/marketing/fx-rates/import', {
        body: csv,
        bodySerializer: (b: string) => b,
        headers: { 'Content-Type': 'text/csv' },
      }),
    ),
  );
}

export type LeadFormSummary = Schemas['LeadFormSummary'];
export type LeadFormDetail = Schemas['LeadFormDetail'];
export type LeadFormQuestion = Schemas['LeadFormQuestion'];
export type MappingTarget = Schemas['MappingTarget'];

export const LEAD_FORMS_KEY = ['marketing', 'lead-forms'] as const;

/** The Lead Ads forms of the selected Pages (live from Meta). */
export function useLeadForms() {
  return useQuery({ queryKey: LEAD_FORMS_KEY, queryFn: () => unwrap(api.GET('/api/crm/marketing/lead-forms')) });
}

export function useLeadForm(formId: string | null) {
  return useQuery({
    queryKey: [...LEAD_FORMS_KEY, formId],
    enabled: !!formId,
    queryFn: () => unwrap(api.GET('/api/crm/marketing/lead-forms/{form_id}', { params: { path: { form_id: formId ?? '' } } })),
  });
}

function useLeadFormMutation<I>(fn: (input: I) => Promise<LeadFormDetail>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (d) => {
      client.setQueryData([...LEAD_FORMS_KEY, d.form_id], d);
      void client.invalidateQueries({ queryKey: LEAD_FORMS_KEY, exact: true });
    },
  });
}

export function useSaveLeadFormMapping() {
  return useLeadFormMutation(({ formId, mapping }: { formId: string; mapping: Record<string, MappingTarget> }) =>
    unwrap(api.PUT('/api/crm/marketing/lead-forms/{form_id}/mapping', { params: { path: { form_id: formId } }, body: { mapping } })),
  );
}

export function useResetLeadFormMapping() {
  return useLeadFormMutation((formId: string) => unwrap(api.DELETE('/api/crm/marketing/lead-forms/{form_id}/mapping', { params: { path: { form_id: formId } } })));
}
