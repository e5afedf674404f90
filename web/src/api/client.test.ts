import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, setCsrfToken, unwrap, unwrapEmpty } from './client';
import { installFakeApi } from '../test/fakeApi';

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

describe('api client', () => {
  it('sends the CSRF token on mutations and not on reads', async () => {
    const { calls } = installFakeApi({
      'GET /api/team': () => ({ status: 200, body: { items: [] } }),
      'POST /api/auth/logout': () => ({ status: 204 }),
    });
    setCsrfToken('tok-123');
    await unwrap(api.GET('/api/team'));
    await unwrapEmpty(api.POST('/api/auth/logout'));
    expect(calls.map((c) => [c.method, c.path, c.headers.get('X-CSRF-Token')])).toEqual([
      ['GET', '/api/team', null],
      ['POST', '/api/auth/logout', 'tok-123'],
    ]);
  });

  it('turns the error envelope into an ApiError with code, details and Retry-After', async () => {
    installFakeApi({
      'POST /api/auth/login': () => ({
        status: 429,
        headers: { 'Retry-After': '42' },
        body: { error: { code: 'rate_limited', message: 'slow down', details: { limit: 5 } } },
      }),
    });
    const err = await unwrap(api.POST('/api/auth/login', { body: { email: 'a@b.c', password: 'x' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const apiErr = err as ApiError;
    expect([apiErr.status, apiErr.code, apiErr.message, apiErr.retryAfter]).toEqual([429, 'rate_limited', 'slow down', 42]);
    expect(apiErr.details).toEqual({ limit: 5 });
  });

  it('reports a non-JSON failure with its HTTP status', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('gateway down', { status: 502, statusText: 'Bad Gateway' })));
    const err = (await unwrap(api.GET('/api/team')).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.code]).toEqual([502, 'http_502']);
  });

  it('reports an unreachable server as network_error', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const err = (await unwrap(api.GET('/api/team')).catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.code]).toEqual([0, 'network_error']);
  });
});
