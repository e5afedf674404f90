// The hub's period and attribution model, kept in the URL (`?range=30d&model=cohort`,
// or `?range=custom&since=YYYY-MM-DD&until=YYYY-MM-DD`) so a view can be shared and
// survives a reload. Names follow the metrics contract (`time_range`, `model`).

export const RANGES = ['7d', '30d', '90d', 'this_month', 'this_year', 'all', 'custom'] as const;
export type RangeKey = (typeof RANGES)[number];
export const MODELS = ['cohort', 'activity'] as const;
export type Model = (typeof MODELS)[number];

export interface HubFilters {
  range: RangeKey;
  model: Model;
  /** Inclusive first day, only with `range === 'custom'`. */
  since?: string;
  /** Inclusive last day, only with `range === 'custom'`. */
  until?: string;
}

export const DEFAULT_FILTERS: HubFilters = { range: '30d', model: 'cohort' };

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day in `YYYY-MM-DD` form (rejects 2026-02-30). */
export function isDay(value: string | null | undefined): value is string {
  if (!value || !DAY.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

/** Read the filters from the URL; anything unknown or inconsistent falls back to the defaults. */
export function readFilters(params: URLSearchParams): HubFilters {
  const rawRange = params.get('range');
  const rawModel = params.get('model');
  const model: Model = (MODELS as readonly string[]).includes(rawModel ?? '') ? (rawModel as Model) : DEFAULT_FILTERS.model;
  if (rawRange === 'custom') {
    const since = params.get('since');
    const until = params.get('until');
    if (isDay(since) && isDay(until) && since <= until) return { range: 'custom', since, until, model };
    return { range: DEFAULT_FILTERS.range, model };
  }
  const range: RangeKey = (RANGES as readonly string[]).includes(rawRange ?? '') ? (rawRange as RangeKey) : DEFAULT_FILTERS.range;
  return { range, model };
}

/** Write the filters into (a copy of) the URL's parameters, leaving the others (e.g. `tab`) alone. */
export function writeFilters(params: URLSearchParams, f: HubFilters): URLSearchParams {
  const next = new URLSearchParams(params);
  next.set('range', f.range);
  next.set('model', f.model);
  if (f.range === 'custom' && f.since && f.until) {
    next.set('since', f.since);
    next.set('until', f.until);
  } else {
    next.delete('since');
    next.delete('until');
  }
  return next;
}

/** Only the filter part of the URL, to carry the period into a drill-down link. */
export function filterSearch(f: HubFilters): string {
  return writeFilters(new URLSearchParams(), f).toString();
}

export interface StatsParams {
  time_range?: string;
  since?: string;
  until?: string;
  model: Model;
}

/** Query parameters of `stats`, `stats/roi`, `campaigns` and the campaign routes. */
export function statsParams(f: HubFilters): StatsParams {
  if (f.range === 'custom' && f.since && f.until) return { since: f.since, until: f.until, model: f.model };
  return { time_range: f.range, model: f.model };
}
