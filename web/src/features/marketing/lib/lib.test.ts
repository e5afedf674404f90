import { describe, expect, it } from 'vitest';
import { change, changeTone, count, money, NONE, percent, relativeChange } from './format';
import { DEFAULT_FILTERS, filterSearch, isDay, readFilters, statsParams, writeFilters } from './range';
import { bucketFor, groupSeries, periodDays, weekStart } from './series';
import { campaignsCsv, csvField, sortRows, type CsvCampaign } from './table';
import { rowWindow } from './windowing';

describe('range in the URL', () => {
  it('reads presets and the model, falling back to 30d/cohort for anything unknown', () => {
    expect(readFilters(new URLSearchParams('range=90d&model=activity'))).toEqual({ range: '90d', model: 'activity' });
    expect(readFilters(new URLSearchParams('range=forever&model=magic'))).toEqual(DEFAULT_FILTERS);
    expect(readFilters(new URLSearchParams(''))).toEqual({ range: '30d', model: 'cohort' });
  });

  it('accepts a custom range only with two real days in order', () => {
    expect(readFilters(new URLSearchParams('range=custom&since=2026-01-01&until=2026-01-31'))).toEqual({ range: 'custom', since: '2026-01-01', until: '2026-01-31', model: 'cohort' });
    expect(readFilters(new URLSearchParams('range=custom&since=2026-02-01&until=2026-01-31')).range).toBe('30d');
    expect(readFilters(new URLSearchParams('range=custom&since=2026-02-30&until=2026-03-31')).range).toBe('30d');
    expect(isDay('2024-02-29')).toBe(true);
    expect(isDay('2026-02-29')).toBe(false);
  });

  it('writes the filters without touching other parameters, and drops stale custom dates', () => {
    const p = new URLSearchParams('tab=overview&range=custom&since=2026-01-01&until=2026-01-02');
    const next = writeFilters(p, { range: '7d', model: 'activity' });
    expect(next.get('tab')).toBe('overview');
    expect(next.get('since')).toBeNull();
    expect(next.toString()).toBe('tab=overview&range=7d&model=activity');
    expect(filterSearch({ range: 'custom', since: '2026-01-01', until: '2026-01-31', model: 'cohort' })).toBe('range=custom&model=cohort&since=2026-01-01&until=2026-01-31');
  });

  it('maps to the API parameters of the contract', () => {
    expect(statsParams({ range: 'this_month', model: 'cohort' })).toEqual({ time_range: 'this_month', model: 'cohort' });
    expect(statsParams({ range: 'custom', since: '2026-01-01', until: '2026-01-31', model: 'activity' })).toEqual({ since: '2026-01-01', until: '2026-01-31', model: 'activity' });
  });
});

describe('formatting', () => {
  it('formats money with Intl for the locale and the currency, at the currency exponent', () => {
    expect(money(1234.5, 'USD', 'en')).toBe('$1,234.50');
    expect(money(1234.5, 'EUR', 'es')).toBe(new Intl.NumberFormat('es', { style: 'currency', currency: 'EUR', minimumFractionDigits: 2 }).format(1234.5));
    expect(money(1500, 'JPY', 'en')).toBe('¥1,500');
    expect(money(1234567.8, 'ARS', 'es-AR')).toContain('1.234.567,80');
  });

  it('shows an undefined value as a dash, never as zero', () => {
    expect(money(null, 'USD', 'en')).toBe(NONE);
    expect(money(undefined, 'USD', 'en')).toBe(NONE);
    expect(percent(null, 'en')).toBe(NONE);
    expect(count(undefined, 'en')).toBe(NONE);
    expect(change(null, 'en')).toBe(NONE);
    expect(money(0, 'USD', 'en')).toBe('$0.00');
  });

  it('formats percentages given in percent units and changes with their sign', () => {
    expect(percent(150, 'en')).toBe('150%');
    expect(percent(12.345, 'en', 2)).toBe('12.35%');
    expect(change(12.5, 'en')).toBe('+12.5%');
    expect(change(-3, 'en')).toBe('-3%');
    expect(change(0, 'en')).toBe('0%');
    expect(change(4.25, 'en', 'points')).toBe('+4.3 pp');
  });

  it('colours changes: more leads is good, a higher CPL is bad, spend is neutral', () => {
    expect(changeTone(10, 'up')).toBe('good');
    expect(changeTone(-10, 'up')).toBe('bad');
    expect(changeTone(10, 'down')).toBe('bad');
    expect(changeTone(-10, 'down')).toBe('good');
    expect(changeTone(10, 'neutral')).toBe('flat');
    expect(changeTone(null, 'up')).toBe('none');
  });

  it('computes the contract change formula, null when the previous value is 0 or undefined', () => {
    expect(relativeChange(150, 100)).toBe(50);
    expect(relativeChange(50, 100)).toBe(-50);
    expect(relativeChange(10, 0)).toBeNull();
    expect(relativeChange(10, null)).toBeNull();
    expect(relativeChange(null, 10)).toBeNull();
  });
});

const row = (id: string, name: string, spend: number, roi: number | null, extra: Partial<CsvCampaign> = {}): CsvCampaign => ({
  id,
  name,
  status: 'ACTIVE',
  spend,
  leads: 1,
  meta_reported_leads: 2,
  cpl: spend,
  opportunities: 0,
  revenue: 0,
  roi,
  cpa: null,
  won: 0,
  customers: 0,
  impressions: 100,
  clicks: 3,
  roas: null,
  ctr: 3,
  ...extra,
});

describe('campaign table', () => {
  it('sorts by a column either way, rows without a value always last', () => {
    const rows = [row('1', 'Beta', 10, 50), row('2', 'alpha', 30, null), row('3', 'Gamma', 20, -20)];
    expect(sortRows(rows, 'spend', 'desc', 'en').map((r) => r.id)).toEqual(['2', '3', '1']);
    expect(sortRows(rows, 'roi', 'desc', 'en').map((r) => r.id)).toEqual(['1', '3', '2']);
    expect(sortRows(rows, 'roi', 'asc', 'en').map((r) => r.id)).toEqual(['3', '1', '2']);
    expect(sortRows(rows, 'name', 'asc', 'en').map((r) => r.name)).toEqual(['alpha', 'Beta', 'Gamma']);
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3']);
    const withUnknown = [row('unknown', 'unknown', 0, null, { leads: 99 }), ...rows];
    expect(sortRows(withUnknown, 'name', 'asc', 'en').at(-1)?.id).toBe('unknown');
    expect(sortRows(withUnknown, 'leads', 'desc', 'en').at(-1)?.id).toBe('unknown');
  });

  it('exports CSV with machine-readable numbers, quoting and no formula injection', () => {
    const csv = campaignsCsv([row('120', 'Promo, "verano"', 12.5, null), row('121', '=HYPERLINK("x")', 0, 10)], 'USD');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,name,status,currency,spend,leads,meta_reported_leads,cpl,opportunities,won,customers,revenue,roi_percentage,roas,cpa,impressions,clicks,ctr');
    expect(lines[1]).toBe('120,"Promo, ""verano""",ACTIVE,USD,12.5,1,2,12.5,0,0,0,0,,,,100,3,3');
    expect(lines[2]?.startsWith(`121,"'=HYPERLINK(""x"")"`)).toBe(true);
    expect(csvField(null)).toBe('');
    expect(csvField('-5')).toBe("'-5");
  });

  it('windows long lists to what is in view', () => {
    const w = rowWindow(500, 48, 0, 480);
    expect(w.start).toBe(0);
    expect(w.end).toBeLessThan(20);
    expect(w.padTop + (w.end - w.start) * 48 + w.padBottom).toBe(500 * 48);
    const mid = rowWindow(500, 48, 48 * 200, 480);
    expect(mid.start).toBe(195);
    expect(mid.end).toBe(200 + 11 + 5);
    const end = rowWindow(500, 48, 1e9, 480);
    expect(end.end).toBe(500);
    expect(rowWindow(0, 48, 0, 480)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });
});

describe('chart series', () => {
  it('groups long periods by week or month, summing amounts', () => {
    expect(bucketFor(30)).toBe('day');
    expect(bucketFor(365)).toBe('week');
    expect(bucketFor(1000)).toBe('month');
    expect(periodDays('2026-01-01', '2026-01-31')).toBe(31);
    expect(weekStart('2026-11-22')).toBe('2026-11-16');
    const pts = [
      { date: '2026-01-30', spend: 0.1, revenue: 1, leads: 1 },
      { date: '2026-01-31', spend: 0.2, revenue: 2, leads: 2 },
      { date: '2026-02-01', spend: 5, revenue: 0, leads: 0 },
    ];
    expect(groupSeries(pts, 'month')).toEqual([
      { date: '2026-01-01', spend: 0.3, revenue: 3, leads: 3 },
      { date: '2026-02-01', spend: 5, revenue: 0, leads: 0 },
    ]);
    expect(groupSeries(pts, 'day')).toHaveLength(3);
  });
});
