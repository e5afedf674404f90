// Number formatting of the hub: Intl for the locale and the reporting currency.
// A missing value (the API's `null`: "not defined", e.g. ROI with no spend) shows
// as an em dash, never as 0.

export const NONE = '—';

type Maybe = number | null | undefined;

function isNum(v: Maybe): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Decimals of a currency (JPY 0, USD 2, ...), from Intl. */
export function currencyDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** An amount in major units of `currency` (the API's unit), exact to the currency's decimals. */
export function money(amount: Maybe, currency: string, locale: string): string {
  if (!isNum(amount)) return NONE;
  const digits = currencyDigits(currency);
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(amount);
  } catch {
    return `${new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(amount)} ${currency}`;
  }
}

/** Short money for chart axes (e.g. "US$ 12 K"). */
export function compactMoney(amount: number, currency: string, locale: string): string {
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }).format(amount);
  } catch {
    return new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(amount);
  }
}

export function count(value: Maybe, locale: string): string {
  if (!isNum(value)) return NONE;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
}

/** A percentage given in percent units (12.5 → "12,5 %"). */
export function percent(value: Maybe, locale: string, digits = 1): string {
  if (!isNum(value)) return NONE;
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: digits }).format(value / 100);
}

/** A plain ratio such as ROAS (2.5 → "2,5×"). */
export function ratio(value: Maybe, locale: string): string {
  if (!isNum(value)) return NONE;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(value)}×`;
}

/** A change against the previous period: "+12,5 %" (relative) or "+3,2 pp" (ROI, percentage points). */
export function change(value: Maybe, locale: string, unit: 'percent' | 'points' = 'percent'): string {
  if (!isNum(value)) return NONE;
  if (unit === 'points') {
    return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(value)} pp`;
  }
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(value / 100);
}

export type Tone = 'good' | 'bad' | 'flat' | 'none';

/** Whether a change is good news: up is good for leads or revenue, down is good for costs (CPL, CPA); spend is neither. */
export function changeTone(value: Maybe, better: 'up' | 'down' | 'neutral'): Tone {
  if (!isNum(value)) return 'none';
  if (Math.abs(value) < 0.05 || better === 'neutral') return 'flat';
  return (value > 0) === (better === 'up') ? 'good' : 'bad';
}

/**
 * The contract's change formula, (current − previous) / previous × 100, for the
 * numbers the API gives no `_change` of (CPL, CPA): null when either side is
 * undefined or previous is 0.
 */
export function relativeChange(current: Maybe, previous: Maybe): number | null {
  if (!isNum(current) || !isNum(previous) || previous === 0) return null;
  return ((current - previous) / previous) * 100;
}
