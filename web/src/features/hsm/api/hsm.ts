import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, unwrapEmpty } from '../../../api/client';
import type { DryRun, LeadMessaging, NewTemplate, Rule, RuleSpec, Run, SendInput, SendResult, SyncReport, Template, TemplateDetail } from './types';

export const HSM_KEY = ['hsm'] as const;

export interface TemplateFilters {
  status?: string;
  category?: string;
  language?: string;
  q?: string;
}

export interface LogFilters {
  rule_id?: string;
  status?: string;
  reason?: string;
  /** ISO instants. */
  from?: string;
  to?: string;
}

function clean<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}

/** Every template matching the filters (all pages). */
export function useTemplates(filters: TemplateFilters = {}, enabled = true) {
  return useQuery({
    queryKey: [...HSM_KEY, 'templates', filters],
    enabled,
    placeholderData: keepPreviousData,
    queryFn: async ({ signal }): Promise<Template[]> => {
      const out: Template[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 50; i++) {
        const page = await unwrap(api.GET('/api/crm/marketing/hsm/templates', { params: { query: { ...clean(filters), limit: 200, ...(cursor ? { cursor } : {}) } }, signal }));
        out.push(...page.items);
        cursor = page.next_cursor ?? undefined;
        if (!cursor) break;
      }
      return out;
    },
  });
}

export function useTemplate(id: string | null) {
  return useQuery({
    queryKey: [...HSM_KEY, 'template', id],
    enabled: !!id,
    queryFn: (): Promise<TemplateDetail> => unwrap(api.GET('/api/crm/marketing/hsm/templates/{id}', { params: { path: { id: id ?? '' } } })),
  });
}

function useInvalidate() {
  const client = useQueryClient();
  return (...parts: string[]) => {
    for (const p of parts) void client.invalidateQueries({ queryKey: [...HSM_KEY, p] });
  };
}

export function useCreateTemplate() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (body: NewTemplate): Promise<Template> => unwrap(api.POST('/api/crm/marketing/hsm/templates', { body })),
    onSuccess: () => invalidate('templates'),
  });
}

export function useDeleteTemplate() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (id: string) => unwrapEmpty(api.DELETE('/api/crm/marketing/hsm/templates/{id}', { params: { path: { id } } })),
    onSuccess: () => invalidate('templates', 'template'),
  });
}

export function useSyncTemplates() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (): Promise<SyncReport> => unwrap(api.POST('/api/crm/marketing/hsm/templates/sync')),
    onSuccess: () => invalidate('templates', 'template'),
  });
}

export function useRules() {
  return useQuery({
    queryKey: [...HSM_KEY, 'rules'],
    queryFn: (): Promise<Rule[]> => unwrap(api.GET('/api/crm/marketing/automation/rules')),
  });
}

export function useSaveRule() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: ({ id, spec }: { id: string | null; spec: RuleSpec }): Promise<Rule> =>
      id
        ? unwrap(api.PUT('/api/crm/marketing/automation/rules/{id}', { params: { path: { id } }, body: spec }))
        : unwrap(api.POST('/api/crm/marketing/automation/rules', { body: spec })),
    onSuccess: () => invalidate('rules'),
  });
}

export function useDeleteRule() {
  const invalidate = useInvalidate();
  return useMutation({
    mutationFn: (id: string) => unwrapEmpty(api.DELETE('/api/crm/marketing/automation/rules/{id}', { params: { path: { id } } })),
    onSuccess: () => invalidate('rules'),
  });
}

export function useToggleRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, enabled }: { id: string; enabled: boolean }): Promise<Rule> =>
      unwrap(api.POST('/api/crm/marketing/automation/rules/{id}/toggle', { params: { path: { id } }, body: { enabled } })),
    onSuccess: (rule) => {
      client.setQueryData<Rule[]>([...HSM_KEY, 'rules'], (old) => old?.map((r) => (r.id === rule.id ? rule : r)));
    },
  });
}

export function useDryRun() {
  return useMutation({
    mutationFn: (id: string): Promise<DryRun> => unwrap(api.POST('/api/crm/marketing/automation/rules/{id}/dry-run', { params: { path: { id }, query: { limit: 200 } } })),
  });
}

const LOG_PAGE = 200;

export function fetchLogPage(filters: LogFilters, cursor?: string, signal?: AbortSignal) {
  return unwrap(api.GET('/api/crm/marketing/automation-logs', { params: { query: { ...clean(filters), limit: LOG_PAGE, ...(cursor ? { cursor } : {}) } }, signal }));
}

/** The automation log, newest first, page by page; refreshed while open. */
export function useLogs(filters: LogFilters) {
  return useInfiniteQuery({
    queryKey: [...HSM_KEY, 'logs', filters],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam, signal }) => fetchLogPage(filters, pageParam, signal),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  });
}

/** Every log row of the filters (for the CSV export), up to `max`. */
export async function fetchAllLogs(filters: LogFilters, max = 50_000): Promise<Run[]> {
  const out: Run[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchLogPage(filters, cursor);
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && out.length < max);
  return out;
}

export function useLeadMessaging(leadId: string, enabled = true) {
  return useQuery({
    queryKey: [...HSM_KEY, 'lead', leadId],
    enabled,
    queryFn: (): Promise<LeadMessaging> => unwrap(api.GET('/api/crm/marketing/hsm/leads/{id}/messages', { params: { path: { id: leadId } } })),
    refetchInterval: 4000,
  });
}

export function useSendTemplate(leadId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ templateId, variables, idempotencyKey }: { templateId: string; variables: Record<string, string>; idempotencyKey: string }): Promise<SendResult> => {
      const body: SendInput = { lead_id: leadId, variables };
      return unwrap(
        api.POST('/api/crm/marketing/hsm/templates/{id}/send', { params: { path: { id: templateId }, header: { 'Idempotency-Key': idempotencyKey } }, body }),
      );
    },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: [...HSM_KEY, 'lead', leadId] });
      void client.invalidateQueries({ queryKey: ['leads', 'timeline', leadId] });
    },
  });
}

/** Resend or dismiss a message held for review (Meta never confirmed it). */
export function useReviewHeld(leadId: string) {
  const client = useQueryClient();
  const done = () => {
    void client.invalidateQueries({ queryKey: [...HSM_KEY, 'lead', leadId] });
    void client.invalidateQueries({ queryKey: [...HSM_KEY, 'logs'] });
  };
  const resend = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/api/crm/marketing/hsm/messages/{id}/resend', { params: { path: { id } } })),
    onSettled: done,
  });
  const dismiss = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/api/crm/marketing/hsm/messages/{id}/dismiss', { params: { path: { id } } })),
    onSettled: done,
  });
  return { resend, dismiss };
}

/** The tenant's choice for sends Meta never confirms (hold, or resend after silence). */
export function useSetResendUnconfirmed() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (s: { opt_out_keywords: string[]; opt_in_keywords: string[]; messages_per_second: number; resend_unconfirmed: boolean }) =>
      unwrap(api.PUT('/api/crm/marketing/hsm/settings', { body: s })),
    onSuccess: (s) => client.setQueryData([...HSM_KEY, 'settings'], s),
  });
}

export function useHsmSettings() {
  return useQuery({
    queryKey: [...HSM_KEY, 'settings'],
    queryFn: () => unwrap(api.GET('/api/crm/marketing/hsm/settings')),
  });
}

/** Resume automation after a pause (keeps the other settings as they are). */
export function useResumeAutomation() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (s: { opt_out_keywords: string[]; opt_in_keywords: string[]; messages_per_second: number }) =>
      unwrap(api.PUT('/api/crm/marketing/hsm/settings', { body: { ...s, resume: true } })),
    onSuccess: (s) => client.setQueryData([...HSM_KEY, 'settings'], s),
  });
}
