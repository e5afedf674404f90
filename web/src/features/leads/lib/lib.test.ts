import { describe, expect, it } from 'vitest';
import { EMPTY_FILTERS, activeFilterCount, exportUrl, filtersFromSearch, filtersToQuery, filtersToSearch } from './filters';
import { currencyDecimals, formatMinor, minorToInput, parseMajorToMinor } from './money';
import { nearEnd, windowRange } from './windowing';
import { guessMapping, mappingHasIdentity, normalizeHeader, parseCsvPreview } from './mapping';

describe('lead filters', () => {
  it('round-trips through the page URL and drops malformed values', () => {
    const f = { ...EMPTY_FILTERS, q: 'ana', status: ['new', 'qualified'], tag: 'vip', createdFrom: '2026-03-01', sort: 'name' };
    const search = filtersToSearch(f);
    expect(search.toString()).toBe('status=new%2Cqualified&q=ana&tag=vip&from=2026-03-01&sort=name');
    expect(filtersFromSearch(search)).toEqual(f);
    expect(filtersFromSearch(new URLSearchParams('from=yesterday&sort=evil'))).toEqual(EMPTY_FILTERS);
  });

  it('builds the API query with only the filters set and an exclusive end bound', () => {
    expect(filtersToQuery(EMPTY_FILTERS)).toEqual({});
    const q = filtersToQuery({ ...EMPTY_FILTERS, q: '  5512 ', source: ['META_ADS'], owner: 'none', campaignId: ' 120 ', createdFrom: '2026-03-01', createdTo: '2026-03-01' });
    expect(q.q).toBe('5512');
    expect(q.source).toBe('META_ADS');
    expect(q.owner).toBe('none');
    expect(q.campaign_id).toBe('120');
    expect(q.sort).toBeUndefined();
    const from = new Date(q.created_from ?? '');
    const to = new Date(q.created_to ?? '');
    expect(to.getTime() - from.getTime()).toBeGreaterThanOrEqual(23 * 3600 * 1000);
    expect(from.getHours()).toBe(0);
    expect(from.getDate()).toBe(1);
  });

  it('counts active filters and builds the export link with the same filters', () => {
    expect(activeFilterCount(EMPTY_FILTERS)).toBe(0);
    const f = { ...EMPTY_FILTERS, status: ['lost'], tag: 'x', sort: 'name' };
    expect(activeFilterCount(f)).toBe(2);
    expect(exportUrl(EMPTY_FILTERS)).toBe('/api/leads/export.csv');
    expect(exportUrl(f)).toBe('/api/leads/export.csv?status=lost&tag=x&sort=name');
  });
});

describe('money in minor units', () => {
  it('knows each currency decimals', () => {
    expect(currencyDecimals('USD')).toBe(2);
    expect(currencyDecimals('CLP')).toBe(0);
    expect(currencyDecimals('KWD')).toBe(3);
  });

  it('formats per currency and locale', () => {
    // Intl uses no-break spaces; compare with plain ones.
    const fmt = (m: number, c: string, l: string) => formatMinor(m, c, l).replace(/[\u00a0\u202f]/g, ' ');
    expect(fmt(123456, 'USD', 'en-US')).toBe('$1,234.56');
    expect(fmt(123456, 'CLP', 'en-US')).toBe('CLP 123,456');
    expect(fmt(1005, 'KWD', 'en-US')).toBe('KWD 1.005');
    expect(fmt(50, 'EUR', 'es-ES')).toBe('0,50 €');
  });

  it('parses typed amounts exactly', () => {
    expect(parseMajorToMinor('1234.5', 'USD')).toBe(123450);
    expect(parseMajorToMinor('1,234.56', 'USD')).toBe(123456);
    expect(parseMajorToMinor('1.234,56', 'EUR')).toBe(123456);
    expect(parseMajorToMinor('1234,5', 'MXN')).toBe(123450);
    expect(parseMajorToMinor('1,234', 'USD')).toBe(123400);
    expect(parseMajorToMinor('0.29', 'USD')).toBe(29);
    expect(parseMajorToMinor('15000', 'CLP')).toBe(15000);
    expect(parseMajorToMinor('15000.5', 'CLP')).toBeNull();
    expect(parseMajorToMinor('1.2.3x', 'USD')).toBeNull();
    expect(parseMajorToMinor('-5', 'USD')).toBeNull();
    expect(parseMajorToMinor('', 'USD')).toBeNull();
    expect(parseMajorToMinor('1.005', 'KWD')).toBe(1005);
  });

  it('shows minor units back in an input', () => {
    expect(minorToInput(123405, 'USD')).toBe('1234.05');
    expect(minorToInput(700, 'CLP')).toBe('700');
  });
});

describe('virtual list windowing', () => {
  it('renders one screen plus overscan at any scroll position of 100k rows', () => {
    const top = windowRange(100_000, 40, 0, 400, 5);
    expect(top).toEqual({ start: 0, end: 16, offsetTop: 0, totalHeight: 4_000_000 });
    const mid = windowRange(100_000, 40, 40 * 5000, 400, 5);
    expect(mid.start).toBe(4995);
    expect(mid.end).toBe(5016);
    expect(mid.offsetTop).toBe(4995 * 40);
    const bottom = windowRange(100_000, 40, 10_000_000, 400, 5);
    expect(bottom.end).toBe(100_000);
    expect(bottom.end - bottom.start).toBeLessThan(30);
  });

  it('handles empty and short lists and says when to load more', () => {
    expect(windowRange(0, 40, 100, 400)).toEqual({ start: 0, end: 0, offsetTop: 0, totalHeight: 0 });
    const r = windowRange(3, 40, 0, 400);
    expect([r.start, r.end]).toEqual([0, 3]);
    expect(nearEnd(windowRange(100, 40, 0, 400), 100)).toBe(false);
    expect(nearEnd(windowRange(100, 40, 3200, 400), 100)).toBe(true);
  });
});

describe('import mapping guess', () => {
  it('maps Spanish and English headers, each field once', () => {
    expect(normalizeHeader('\uFEFFTeléfono Móvil')).toBe('telefono_movil');
    expect(guessMapping(['Nombre', 'Teléfono', 'Correo', 'Email', 'Etiquetas', 'utm_source', 'Notas'])).toEqual({
      Nombre: 'name',
      Teléfono: 'phone',
      Correo: 'email',
      Email: '-',
      Etiquetas: 'tags',
      utm_source: 'utm_source',
      Notas: '-',
    });
    expect(mappingHasIdentity({ Notas: '-', Tags: 'tags' })).toBe(false);
    expect(mappingHasIdentity({ Tel: 'phone' })).toBe(true);
  });

  it('reads quoted headers and sample rows', () => {
    const csv = 'name,"phone, mobile",note\r\n"Ana ""la jefa""",+5215512345678,"two\nlines"\nLuis,,x\n';
    const p = parseCsvPreview(csv, 5);
    expect(p.headers).toEqual(['name', 'phone, mobile', 'note']);
    expect(p.rows).toEqual([
      ['Ana "la jefa"', '+5215512345678', 'two\nlines'],
      ['Luis', '', 'x'],
    ]);
  });
});
