// The spend-vs-revenue chart: daily points, grouped by week or month when the
// period is long so the chart stays readable (sums, never averages).

export interface Point {
  date: string;
  spend: number;
  revenue: number;
  leads: number;
}

export type Bucket = 'day' | 'week' | 'month';

export function bucketFor(days: number): Bucket {
  if (days <= 92) return 'day';
  if (days <= 400) return 'week';
  return 'month';
}

/** Monday of the ISO week of a `YYYY-MM-DD` day. */
export function weekStart(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - dow);
  return d.toISOString().slice(0, 10);
}

function keyOf(day: string, bucket: Bucket): string {
  if (bucket === 'month') return `${day.slice(0, 7)}-01`;
  if (bucket === 'week') return weekStart(day);
  return day;
}

/** Group points (sorted by date) into buckets; amounts are summed and rounded to `digits` decimals. */
export function groupSeries<T extends Point>(points: readonly T[], bucket: Bucket, digits = 2): Point[] {
  const out = new Map<string, Point>();
  const f = 10 ** digits;
  for (const p of points) {
    const k = keyOf(p.date, bucket);
    const acc = out.get(k) ?? { date: k, spend: 0, revenue: 0, leads: 0 };
    acc.spend = Math.round((acc.spend + p.spend) * f) / f;
    acc.revenue = Math.round((acc.revenue + p.revenue) * f) / f;
    acc.leads += p.leads;
    out.set(k, acc);
  }
  return [...out.values()].sort((a, b) => a.date.localeCompare(b.date));
}

/** Days in an inclusive period. */
export function periodDays(since: string, until: string): number {
  const a = Date.parse(`${since}T00:00:00Z`);
  const b = Date.parse(`${until}T00:00:00Z`);
  if (Number.isNaN(a) || Number.isNaN(b)) return 0;
  return Math.round((b - a) / 86_400_000) + 1;
}
