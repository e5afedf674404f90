import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, getCsrfToken, toApiError, unwrap } from '../../../api/client';
import type { LeadListQuery } from '../lib/filters';
import type { ImportReport, Lead, LeadDetail, LeadPatch, NewLead, NewOpportunity, NewSale, Opportunity, Sale } from './types';

export const LEADS_KEY = ['leads'] as const;
const PAGE_SIZE = 100;

/** The filtered lead list, page by page (cursor pagination on the server). */
export function useLeadList(query: LeadListQuery) {
  return useInfiniteQuery({
    queryKey: [...LEADS_KEY, 'list', query],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam, signal }) =>
      unwrap(api.GET('/api/leads', { params: { query: { ...query, limit: PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) } }, signal })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

export function useLead(id: string) {
  return useQuery({
    queryKey: [...LEADS_KEY, 'detail', id],
    queryFn: () => unwrap(api.GET('/api/leads/{id}', { params: { path: { id } } })),
  });
}

export function useTimeline(id: string) {
  return useInfiniteQuery({
    queryKey: [...LEADS_KEY, 'timeline', id],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET('/api/leads/{id}/timeline', { params: { path: { id }, query: { limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useLeadSales(leadId: string) {
  return useQuery({
    queryKey: [...LEADS_KEY, 'sales', leadId],
    queryFn: async () => (await unwrap(api.GET('/api/sales', { params: { query: { lead_id: leadId, limit: 200 } } }))).items,
  });
}

/** Team members for owner pickers (only for roles that may manage the team). */
export function useOwners(enabled: boolean) {
  return useQuery({
    queryKey: ['team'],
    queryFn: async () => (await unwrap(api.GET('/api/team'))).items,
    enabled,
  });
}

function useInvalidateLead() {
  const client = useQueryClient();
  return (leadId?: string) => {
    if (leadId) {
      void client.invalidateQueries({ queryKey: [...LEADS_KEY, 'detail', leadId] });
      void client.invalidateQueries({ queryKey: [...LEADS_KEY, 'timeline', leadId] });
      void client.invalidateQueries({ queryKey: [...LEADS_KEY, 'sales', leadId] });
    }
    void client.invalidateQueries({ queryKey: [...LEADS_KEY, 'list'] });
    void client.invalidateQueries({ queryKey: ['pipeline'] });
  };
}

/** Create a lead; a duplicate answers 409 `duplicate_lead` with `details.existing_id`. */
export function useCreateLead() {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (body: NewLead): Promise<Lead> => unwrap(api.POST('/api/leads', { body })),
    onSuccess: () => invalidate(),
  });
}

/** The id of the existing lead a 409 points at, if any. */
export function duplicateLeadId(err: unknown): string | null {
  if (!(err instanceof ApiError) || err.status !== 409 || typeof err.details !== 'object' || err.details === null) return null;
  const id = (err.details as { existing_id?: unknown }).existing_id;
  return typeof id === 'string' ? id : null;
}

export function useUpdateLead(id: string) {
  const client = useQueryClient();
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (patch: LeadPatch): Promise<Lead> => unwrap(api.PATCH('/api/leads/{id}', { params: { path: { id } }, body: patch })),
    onSuccess: (lead) => {
      client.setQueryData<LeadDetail>([...LEADS_KEY, 'detail', id], (d) => (d ? { ...d, lead } : d));
      invalidate(id);
    },
  });
}

export function useAddNote(id: string) {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (text: string) => unwrap(api.POST('/api/leads/{id}/notes', { params: { path: { id } }, body: { body: text } })),
    onSuccess: () => invalidate(id),
  });
}

export function useSetConsent(id: string) {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (body: { action: 'opt_in' | 'opt_out'; method: string }) =>
      unwrap(api.POST('/api/leads/{id}/consent', { params: { path: { id } }, body })),
    onSuccess: () => invalidate(id),
  });
}

export function useBulkAssign() {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (body: { ids: string[]; owner_id: string | null }) => unwrap(api.POST('/api/leads/bulk/assign', { body })),
    onSuccess: () => invalidate(),
  });
}

export function useBulkTag() {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (body: { ids: string[]; add: string[]; remove: string[] }) => unwrap(api.POST('/api/leads/bulk/tag', { body })),
    onSuccess: () => invalidate(),
  });
}

export function useCreateOpportunity(leadId: string) {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (body: NewOpportunity): Promise<Opportunity> => unwrap(api.POST('/api/opportunities', { body })),
    onSuccess: () => invalidate(leadId),
  });
}

export function useCreateSale(leadId: string) {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: (body: NewSale): Promise<Sale> => unwrap(api.POST('/api/sales', { body })),
    onSuccess: () => invalidate(leadId),
  });
}

export function useRefundSale(leadId: string) {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: ({ id, amount_minor }: { id: string; amount_minor?: number }): Promise<Sale> =>
      unwrap(api.POST('/api/sales/{id}/refunds', { params: { path: { id } }, body: amount_minor === undefined ? {} : { amount_minor } })),
    onSuccess: () => invalidate(leadId),
  });
}

export function useStages() {
  return useQuery({
    queryKey: ['pipeline', 'stages'],
    queryFn: async () => (await unwrap(api.GET('/api/pipeline/stages'))).items,
  });
}

/** Upload a CSV (as `text/csv`) with the reviewed header mapping; answers the import report. */
export async function importCsv(text: string, mapping: Record<string, string>): Promise<ImportReport> {
  const url = `/api/leads/import?mapping=${encodeURIComponent(JSON.stringify(mapping))}`;
  const headers: Record<string, string> = { 'Content-Type': 'text/csv; charset=utf-8' };
  const csrf = getCsrfToken();
  if (csrf) headers['X-CSRF-Token'] = csrf;
  let response: Response;
  try {
    response = await globalThis.fetch(new Request(new URL(url, window.location.origin), { method: 'POST', headers, body: text, credentials: 'same-origin' }));
  } catch (err) {
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(response, body);
  return body as ImportReport;
}

export function useImportLeads() {
  const invalidate = useInvalidateLead();
  return useMutation({
    mutationFn: ({ text, mapping }: { text: string; mapping: Record<string, string> }) => importCsv(text, mapping),
    onSuccess: () => invalidate(),
  });
}
