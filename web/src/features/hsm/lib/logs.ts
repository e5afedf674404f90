// The automation log: status timelines and the CSV export.

import type { Run } from '../api/types';

export interface TimelineStep {
  status: string;
  at: string | null;
  reason: string | null;
}

/** The happy path a sent message walks. */
export const HAPPY_PATH = ['queued', 'sent', 'delivered', 'read'] as const;

/** The run's timeline as given by the server: `[{status, at, reason?}]`, in order. */
export function timelineOf(run: Pick<Run, 'timeline'>): TimelineStep[] {
  return (run.timeline ?? []).flatMap((raw) => {
    const e = raw as { status?: unknown; at?: unknown; reason?: unknown };
    if (typeof e.status !== 'string') return [];
    return [{ status: e.status, at: typeof e.at === 'string' ? e.at : null, reason: typeof e.reason === 'string' ? e.reason : null }];
  });
}

/**
 * The steps to draw: queued → sent → delivered → read with the ones reached
 * marked done; a failed or skipped run ends at that step with its reason.
 */
export function displaySteps(run: Pick<Run, 'timeline' | 'status' | 'reason'>): (TimelineStep & { done: boolean })[] {
  const seen = timelineOf(run);
  const terminal = run.status === 'failed' || run.status === 'skipped' || run.status === 'paused';
  if (terminal) {
    const out = seen.map((s) => ({ ...s, done: true }));
    if (!out.some((s) => s.status === run.status)) out.push({ status: run.status, at: null, reason: run.reason ?? null, done: true });
    return out;
  }
  const extra = seen.filter((s) => !(HAPPY_PATH as readonly string[]).includes(s.status));
  const happy = HAPPY_PATH.map((status) => {
    const hit = [...seen].reverse().find((s) => s.status === status);
    return { status, at: hit?.at ?? null, reason: hit?.reason ?? null, done: !!hit || HAPPY_PATH.indexOf(status) <= HAPPY_PATH.indexOf(run.status as (typeof HAPPY_PATH)[number]) };
  });
  // Rescheduled (quiet hours) sits between queued and sent.
  return [happy[0]!, ...extra.map((s) => ({ ...s, done: true })), ...happy.slice(1)];
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // Cells starting with a formula character are neutralised for spreadsheets.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS = ['created_at', 'run_at', 'rule', 'lead', 'lead_id', 'template', 'language', 'status', 'reason', 'error_code', 'error_message', 'wamid', 'timeline', 'rendered'] as const;

export function logsToCsv(runs: readonly Run[]): string {
  const rows = runs.map((r) =>
    [
      r.created_at,
      r.run_at,
      r.rule_name ?? r.rule_id,
      r.lead_name ?? '',
      r.lead_id,
      r.template_name,
      r.language,
      r.status,
      r.reason ?? '',
      r.error_code ?? '',
      r.error_message ?? '',
      r.wamid ?? '',
      timelineOf(r)
        .map((s) => `${s.status}@${s.at ?? ''}${s.reason ? `(${s.reason})` : ''}`)
        .join(' > '),
      r.rendered ?? '',
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}
