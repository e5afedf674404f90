import { describe, expect, it } from 'vitest';
import { countryName, formatDateTime, formatMoney, formatRelative, initials, supportedCountries } from './index';

describe('formatters', () => {
  it('formats money for the locale and currency', () => {
    expect(formatMoney(1234.5, 'USD', 'en')).toBe('$1,234.50');
    // Spanish groups with a dot and puts the symbol after the amount.
    expect(formatMoney(1234.5, 'EUR', 'es').replace(/\s/g, ' ')).toBe('1234,50 €');
    expect(formatMoney(10, 'CLP', 'es-CL').replace(/\s/g, ' ')).toBe('$10');
  });

  it('shows an unknown currency code instead of guessing', () => {
    expect(formatMoney(5, 'XX1', 'en')).toBe('5 XX1');
  });

  it('formats instants in the tenant time zone', () => {
    const iso = '2026-01-15T03:30:00Z';
    expect(formatDateTime(iso, 'en', 'UTC')).toContain('Jan 15, 2026');
    expect(formatDateTime(iso, 'en', 'America/Mexico_City')).toContain('Jan 14, 2026');
  });

  it('formats relative times', () => {
    const now = new Date('2026-01-15T12:00:00Z');
    expect(formatRelative('2026-01-15T11:57:00Z', 'en', now)).toBe('3 minutes ago');
    expect(formatRelative('2026-01-14T12:00:00Z', 'es', now)).toBe('ayer');
  });

  it('builds avatar initials', () => {
    expect(initials('Ana María López')).toBe('AL');
    expect(initials('bob')).toBe('BO');
    expect(initials('  ')).toBe('?');
  });

  it('lists countries by their localized name', () => {
    const es = supportedCountries('es');
    expect(es.find((c) => c.code === 'MX')?.name).toBe('México');
    expect(es.some((c) => c.code === 'EU' || c.code === 'ZZ')).toBe(false);
    expect(es.length).toBeGreaterThan(200);
    expect(countryName('DE', 'en')).toBe('Germany');
  });
});
