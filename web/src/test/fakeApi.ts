import { vi } from 'vitest';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> };
export type Handler = (req: Recorded) => Reply | Promise<Reply>;

/**
 * Replace global fetch with an in-memory API: `routes` maps "METHOD /path"
 * (path params as `{id}`) to a handler. Every request is recorded; an
 * unrouted request answers 404 so a test never passes by accident.
 */
export function installFakeApi(routes: Record<string, Handler>) {
  const calls: Recorded[] = [];
  const patterns = Object.entries(routes).map(([key, handler]) => {
    const [method, path] = key.split(' ') as [string, string];
    const re = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    return { method, re, handler };
  });
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = await request.text();
    const recorded: Recorded = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    calls.push(recorded);
    const route = patterns.find((p) => p.method === request.method && p.re.test(url.pathname));
    const reply: Reply = route ? await route.handler(recorded) : { status: 404, body: { error: { code: 'not_found', message: 'no route' } } };
    const headers = new Headers(reply.headers);
    if (reply.body !== undefined) headers.set('Content-Type', 'application/json');
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), { status: reply.status, headers });
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetchMock };
}

export function sessionFor(role: 'ceo' | 'admin' | 'marketing' | 'seller', permissions: string[]) {
  return {
    user: { id: `u-${role}`, email: `${role}@acme.test`, name: `Ana ${role}`, role, status: 'active', created_at: '2026-01-01T00:00:00Z', last_login_at: null },
    tenant: { id: 't1', name: 'Acme', currency: 'USD', timezone: 'America/Mexico_City', locale: 'es', country: 'MX' },
    token: null,
    role,
    csrf_token: `csrf-${role}`,
    permissions,
  };
}

/** The permission names the server's matrix defines (crm-core roles.rs). */
export const ALL_PERMISSIONS = [
  'team.manage',
  'tokens.manage',
  'audit.read',
  'settings.manage',
  'meta.manage',
  'webhooks.manage',
  'leads.read',
  'leads.write',
  'leads.import',
  'pipeline.read',
  'pipeline.write',
  'sales.write',
  'messages.send',
  'marketing.read',
  'marketing.manage',
  'hsm.manage',
] as const;
export const CEO_PERMISSIONS = [...ALL_PERMISSIONS];
export const SELLER_PERMISSIONS = ['leads.read', 'leads.write', 'pipeline.read', 'pipeline.write', 'sales.write', 'messages.send'];
