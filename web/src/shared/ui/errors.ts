import type { TFunction } from 'i18next';
import { ApiError } from '../../api/client';

/** A translated, user-readable message for any error thrown by the API layer. */
export function errorMessage(t: TFunction, err: unknown): string {
  if (err instanceof ApiError) {
    const key = `errors.${err.code}`;
    if (err.code === 'rate_limited' && err.retryAfter !== null) {
      return t('errors.rate_limited_retry', { seconds: err.retryAfter });
    }
    const translated = t(key, { defaultValue: '' });
    if (translated) return translated;
    if (err.status >= 500) return t('errors.server');
    return err.message || t('errors.unknown');
  }
  if (err instanceof Error && err.message) return err.message;
  return t('errors.unknown');
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
