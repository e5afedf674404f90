// Money is integer minor units plus an ISO 4217 currency (never floats, never
// mixed currencies). The number of decimals comes from Intl.

/** Decimal places of a currency (USD 2, CLP 0, KWD 3); 2 for unknown codes. */
export function currencyDecimals(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** Format integer minor units of `currency` for `locale`. */
export function formatMinor(minor: number, currency: string, locale: string): string {
  const decimals = currencyDecimals(currency);
  const major = minor / 10 ** decimals;
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(major);
  } catch {
    return `${new Intl.NumberFormat(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(major)} ${currency}`;
  }
}

/**
 * Parse what a user typed ("1234.5", "1,234.50", "1234,5") into integer minor
 * units of `currency`, exactly (string arithmetic, no floating point). Returns
 * null when the text is not a non-negative amount with at most the currency's
 * decimals.
 */
export function parseMajorToMinor(text: string, currency: string): number | null {
  const decimals = currencyDecimals(currency);
  const s = text.trim().replace(/\s/g, '');
  if (!/^[\d.,]+$/.test(s) || !/\d/.test(s)) return null;
  const last = Math.max(s.lastIndexOf('.'), s.lastIndexOf(','));
  let intPart = last < 0 ? s : s.slice(0, last);
  let frac = last < 0 ? '' : s.slice(last + 1);
  // "1,234" or "1.234" in a two-decimal currency is a thousands group.
  if (frac.length === 3 && decimals < 3) {
    intPart = s;
    frac = '';
  }
  const digits = intPart.replace(/[.,]/g, '');
  if (!/^\d*$/.test(digits) || !/^\d*$/.test(frac) || frac.length > decimals) return null;
  const value = Number(digits || '0') * 10 ** decimals + (decimals === 0 ? 0 : Number(frac.padEnd(decimals, '0')));
  return Number.isSafeInteger(value) ? value : null;
}

/** Minor units as a plain decimal string for an input field ("1234.50"). */
export function minorToInput(minor: number, currency: string): string {
  const decimals = currencyDecimals(currency);
  if (decimals === 0) return String(minor);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const unit = 10 ** decimals;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(decimals, '0')}`;
}
