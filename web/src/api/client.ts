import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/** An error answered by the API (`{"error":{"code","message","details"}}`) or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Seconds from `Retry-After`, when the server sent one (429). */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, details: unknown = null, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

let csrfToken: string | null = null;

/** Remember the CSRF token from a login, setup or `me` response. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const csrfMiddleware: Middleware = {
  onRequest({ request }) {
    if (MUTATING.has(request.method.toUpperCase()) && csrfToken) {
      request.headers.set('X-CSRF-Token', csrfToken);
    }
    return request;
  },
};

function baseUrl(): string {
  return typeof window !== 'undefined' && window.location ? window.location.origin : '';
}

/** The typed API client. Paths and bodies are checked against the OpenAPI document. */
export const api = createClient<paths>({
  baseUrl: baseUrl(),
  credentials: 'same-origin',
  // Resolve `fetch` at call time so tests can substitute it.
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use(csrfMiddleware);

function parseRetryAfter(response: Response): number | null {
  const raw = response.headers.get('Retry-After');
  if (!raw) return null;
  const secs = Number(raw);
  return Number.isFinite(secs) && secs >= 0 ? secs : null;
}

function isErrorBody(value: unknown): value is { error: { code: string; message: string; details?: unknown } } {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const inner = (value as { error: unknown }).error;
  return (
    typeof inner === 'object' &&
    inner !== null &&
    typeof (inner as { code?: unknown }).code === 'string' &&
    typeof (inner as { message?: unknown }).message === 'string'
  );
}

/** Build an ApiError from a failed response and its parsed body (if any). */
export function toApiError(response: Response, body: unknown): ApiError {
  if (isErrorBody(body)) {
    return new ApiError(response.status, body.error.code, body.error.message, body.error.details ?? null, parseRetryAfter(response));
  }
  return new ApiError(response.status, `http_${response.status}`, response.statusText || `HTTP ${response.status}`, null, parseRetryAfter(response));
}

type FetchResult<T> = { data?: T; error?: unknown; response: Response };

/**
 * Turn an openapi-fetch result into its data, or throw an ApiError.
 * Network failures (fetch rejecting) become `network_error`.
 */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined) {
    throw toApiError(response, error);
  }
  return data as T;
}

/** For calls answering 204 No Content. */
export async function unwrapEmpty(call: Promise<FetchResult<unknown>>): Promise<void> {
  await unwrap(call);
}
