import type { TFunction } from 'i18next';
import { ApiError } from '../../api/client';

/** A translated, user-readable message for any error thrown by the API layer. */
export function errorMessage(t: TFunction, err: unknown): string {
  if (err instanceof ApiError) {
    const key = `errors.${err.code}`;
    if (err.code === 'rate_limited' && err.retryAfter !== null) {
      return t('errors.rate_limited_retry', { seconds: err.retryAfter });
    }
    const translated = t(key, { defaultValue: '', ...detailValues(err.details) });
    if (translated) return translated;
    if (err.status >= 500) return t('errors.server');
    return err.message || t('errors.unknown');
  }
  if (err instanceof Error && err.message) return err.message;
  return t('errors.unknown');
}

/** Option names of i18next's `t`: a detail with one of these names must not steer the lookup. */
const I18N_OPTIONS = new Set([
  'lng', 'lngs', 'ns', 'defaultValue', 'count', 'context', 'ordinal', 'replace',
  'returnObjects', 'returnDetails', 'joinArrays', 'postProcess', 'interpolation',
  'keySeparator', 'nsSeparator', 'fallbackLng',
]);

/**
 * The error's `details` as interpolation values for its translation: strings
 * and numbers as they are, lists of them joined with ", " (e.g. the form
 * questions of `unknown_question`). Anything else is left out.
 */
function detailValues(details: unknown): Record<string, string> {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(details as Record<string, unknown>)) {
    if (I18N_OPTIONS.has(k)) continue;
    if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) {
      out[k] = v.map(String).join(', ');
    }
  }
  return out;
}

/** Field-level messages when the server reports them in `details.fields` ({field: message}). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || typeof err.details !== 'object' || err.details === null) return {};
  const fields = (err.details as { fields?: unknown }).fields;
  if (typeof fields !== 'object' || fields === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}
