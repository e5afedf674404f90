// The lead list's filters, kept in the page URL and sent to `GET /api/leads`
// (and to the CSV export) as query parameters. Empty values are never sent.

export interface LeadFilters {
  q: string;
  status: string[];
  source: string[];
  owner: string;
  campaignId: string;
  adId: string;
  tag: string;
  /** `YYYY-MM-DD`, inclusive, in the browser's time zone. */
  createdFrom: string;
  /** `YYYY-MM-DD`, inclusive. */
  createdTo: string;
  sort: string;
}

export const EMPTY_FILTERS: LeadFilters = {
  q: '',
  status: [],
  source: [],
  owner: '',
  campaignId: '',
  adId: '',
  tag: '',
  createdFrom: '',
  createdTo: '',
  sort: '-created_at',
};

export const SORTS = ['-created_at', 'created_at', 'name', '-name', '-updated_at'] as const;

const URL_KEYS: Record<Exclude<keyof LeadFilters, 'status' | 'source'>, string> = {
  q: 'q',
  owner: 'owner',
  campaignId: 'campaign_id',
  adId: 'ad_id',
  tag: 'tag',
  createdFrom: 'from',
  createdTo: 'to',
  sort: 'sort',
};

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Read filters from the page URL (unknown or malformed values are dropped). */
export function filtersFromSearch(params: URLSearchParams): LeadFilters {
  const list = (key: string) =>
    (params.get(key) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const sort = params.get('sort') ?? '';
  const day = (key: string) => {
    const v = params.get(key) ?? '';
    return DAY.test(v) ? v : '';
  };
  return {
    q: params.get('q') ?? '',
    status: list('status'),
    source: list('source'),
    owner: params.get('owner') ?? '',
    campaignId: params.get('campaign_id') ?? '',
    adId: params.get('ad_id') ?? '',
    tag: params.get('tag') ?? '',
    createdFrom: day('from'),
    createdTo: day('to'),
    sort: (SORTS as readonly string[]).includes(sort) ? sort : EMPTY_FILTERS.sort,
  };
}

/** Write filters to the page URL (only what differs from the defaults). */
export function filtersToSearch(f: LeadFilters): URLSearchParams {
  const out = new URLSearchParams();
  if (f.status.length) out.set('status', f.status.join(','));
  if (f.source.length) out.set('source', f.source.join(','));
  for (const [field, key] of Object.entries(URL_KEYS) as [keyof typeof URL_KEYS, string][]) {
    const v = f[field].trim();
    if (v && !(field === 'sort' && v === EMPTY_FILTERS.sort)) out.set(key, v);
  }
  return out;
}

/** Local midnight of a `YYYY-MM-DD` day as an RFC 3339 instant. */
function dayStart(day: string, plusDays = 0): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d + plusDays).toISOString();
}

export interface LeadListQuery {
  q?: string;
  status?: string;
  source?: string;
  owner?: string;
  campaign_id?: string;
  ad_id?: string;
  tag?: string;
  created_from?: string;
  created_to?: string;
  sort?: string;
}

/** The API query of `GET /api/leads` for these filters (no cursor/limit). */
export function filtersToQuery(f: LeadFilters): LeadListQuery {
  const out: LeadListQuery = {};
  const q = f.q.trim();
  if (q) out.q = q;
  if (f.status.length) out.status = f.status.join(',');
  if (f.source.length) out.source = f.source.join(',');
  if (f.owner.trim()) out.owner = f.owner.trim();
  if (f.campaignId.trim()) out.campaign_id = f.campaignId.trim();
  if (f.adId.trim()) out.ad_id = f.adId.trim();
  if (f.tag.trim()) out.tag = f.tag.trim();
  if (DAY.test(f.createdFrom)) out.created_from = dayStart(f.createdFrom);
  // The "to" day is inclusive: the API's bound is exclusive, so use the next midnight.
  if (DAY.test(f.createdTo)) out.created_to = dayStart(f.createdTo, 1);
  if (f.sort && f.sort !== EMPTY_FILTERS.sort) out.sort = f.sort;
  return out;
}

/** How many filters (besides sort) are active, for the "clear filters" button. */
export function activeFilterCount(f: LeadFilters): number {
  return (
    (f.q.trim() ? 1 : 0) +
    (f.status.length ? 1 : 0) +
    (f.source.length ? 1 : 0) +
    [f.owner, f.campaignId, f.adId, f.tag, f.createdFrom, f.createdTo].filter((v) => v.trim()).length
  );
}

/** Relative URL of the CSV export for the current filters. */
export function exportUrl(f: LeadFilters): string {
  const params = new URLSearchParams(filtersToQuery(f) as Record<string, string>);
  const qs = params.toString();
  return `/api/leads/export.csv${qs ? `?${qs}` : ''}`;
}
