// Campaign table helpers: sorting (missing values always last) and the CSV export.

export type SortKey = 'name' | 'status' | 'spend' | 'leads' | 'meta_reported_leads' | 'cpl' | 'opportunities' | 'revenue' | 'roi' | 'cpa';
export type SortDir = 'asc' | 'desc';

export interface SortableRow {
  id: string;
  name: string;
  status: string;
  spend: number;
  leads: number;
  meta_reported_leads: number;
  cpl?: number | null;
  opportunities: number;
  revenue: number;
  roi?: number | null;
  cpa?: number | null;
}

function value(row: SortableRow, key: SortKey): string | number | null {
  const v = row[key];
  return v === undefined ? null : v;
}

/**
 * A sorted copy. Rows without a value (e.g. ROI with no spend) go last in both
 * directions; ties keep name order. The "unknown campaign" catch-all row
 * (`id` = `unknown`) always comes last.
 */
export function sortRows<T extends SortableRow>(rows: readonly T[], key: SortKey, dir: SortDir, locale: string): T[] {
  const collator = new Intl.Collator(locale, { sensitivity: 'base', numeric: true });
  const sign = dir === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    if ((a.id === 'unknown') !== (b.id === 'unknown')) return a.id === 'unknown' ? 1 : -1;
    const va = value(a, key);
    const vb = value(b, key);
    if (va === null && vb !== null) return 1;
    if (vb === null && va !== null) return -1;
    let c = 0;
    if (typeof va === 'string' && typeof vb === 'string') c = collator.compare(va, vb);
    else if (typeof va === 'number' && typeof vb === 'number') c = va - vb;
    if (c !== 0) return sign * c;
    return collator.compare(a.name, b.name);
  });
}

/** Default direction when a column is first clicked: text ascending, numbers descending. */
export function defaultDir(key: SortKey): SortDir {
  return key === 'name' || key === 'status' ? 'asc' : 'desc';
}

/** One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula gets a leading quote mark. */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface CsvCampaign extends SortableRow {
  won: number;
  customers: number;
  impressions: number;
  clicks: number;
  roas?: number | null;
  ctr?: number | null;
}

const CSV_COLUMNS = [
  'id',
  'name',
  'status',
  'currency',
  'spend',
  'leads',
  'meta_reported_leads',
  'cpl',
  'opportunities',
  'won',
  'customers',
  'revenue',
  'roi_percentage',
  'roas',
  'cpa',
  'impressions',
  'clicks',
  'ctr',
] as const;

/**
 * The campaigns as CSV: machine-readable numbers (dot decimals, major units of
 * `currency`, empty when undefined), one header line, CRLF line ends.
 */
export function campaignsCsv(rows: readonly CsvCampaign[], currency: string): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const cells: (string | number | null | undefined)[] = [
      r.id,
      r.name,
      r.status,
      currency,
      r.spend,
      r.leads,
      r.meta_reported_leads,
      r.cpl,
      r.opportunities,
      r.won,
      r.customers,
      r.revenue,
      r.roi,
      r.roas,
      r.cpa,
      r.impressions,
      r.clicks,
      r.ctr,
    ];
    lines.push(cells.map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Offer `text` as a file download (a UTF-8 BOM keeps spreadsheets from garbling accents). */
export function downloadText(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const blob = new Blob(['\uFEFF', text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
