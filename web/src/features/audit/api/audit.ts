import { useInfiniteQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../../api/client';
import type { AuditPage } from '../../../api/types';

export interface AuditFilters {
  action?: string;
  resource_type?: string;
  user_id?: string;
  /** RFC 3339 instants. */
  since?: string;
  until?: string;
}

export const AUDIT_PAGE_SIZE = 50;

export function useAuditLog(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: ['audit', filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }): Promise<AuditPage> =>
      unwrap(
        api.GET('/api/audit', {
          params: { query: { ...filters, limit: AUDIT_PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** Start of a local calendar day (yyyy-mm-dd from a date input) as an RFC 3339 instant. */
export function dayStart(day: string): string | undefined {
  const d = parseDay(day);
  return d ? d.toISOString() : undefined;
}

/** End of a local calendar day (exclusive upper bound minus one millisecond). */
export function dayEnd(day: string): string | undefined {
  const d = parseDay(day);
  if (!d) return undefined;
  d.setDate(d.getDate() + 1);
  return new Date(d.getTime() - 1).toISOString();
}

function parseDay(day: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) ? null : d;
}
