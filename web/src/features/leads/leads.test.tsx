import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import sharedEs from '../../i18n/es.json';
import { CEO_PERMISSIONS, installFakeApi, sessionFor } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';
import leadsEs from './i18n/es.json';
import leadsEn from './i18n/en.json';
import pipelineEs from '../pipeline/i18n/es.json';
import pipelineEn from '../pipeline/i18n/en.json';

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

function flatten(obj: unknown, prefix = ''): string[] {
  if (typeof obj !== 'object' || obj === null) return [prefix];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const full = join(dir, n);
    if (statSync(full).isDirectory()) return files(full);
    return /\.tsx?$/.test(n) && !/\.test\.tsx?$/.test(n) ? [full] : [];
  });
}
const plural = (keys: string[]) => new Set(keys.flatMap((k) => [k, k.replace(/_(one|other)$/, '')]));

describe('leads and pipeline translations', () => {
  it.each([
    ['leads', leadsEs, leadsEn],
    ['pipeline', pipelineEs, pipelineEn],
  ])('%s: Spanish and English have the same keys and every key used exists', (ns, es, en) => {
    expect(flatten(en).sort()).toEqual(flatten(es).sort());
    const keys = plural(flatten(es));
    const shared = new Set(flatten(sharedEs));
    const used = new Set<string>();
    for (const f of files(join(__dirname, '..', ns))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z:_.-]+)'/g)) if (m[1]) used.add(m[1]);
      // Sidebar labels are shared keys (the layout translates them in the default namespace).
      for (const m of text.matchAll(/(?:labelKey|descriptionKey): '([^']+)'/g)) if (m[1]) used.add(`translation:${m[1]}`);
    }
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((k) => {
      if (k.startsWith('translation:')) return !shared.has(k.slice('translation:'.length));
      const bare = k.startsWith(`${ns}:`) ? k.slice(ns.length + 1) : k;
      return !keys.has(bare);
    });
    expect(missing).toEqual([]);
  });
});

type LeadRow = Record<string, unknown> & { id: string; name: string };

function lead(i: number, extra: Partial<LeadRow> = {}): LeadRow {
  return {
    id: `l${i}`,
    name: `Lead ${i}`,
    phone: `+5255000${String(i).padStart(5, '0')}`,
    email: null,
    wa_id: null,
    bsuid: null,
    status: 'new',
    owner_id: null,
    tags: [],
    lead_source: 'META_ADS',
    channel: 'lead_form',
    meta_campaign_id: '120001',
    meta_ad_id: '120009',
    external_ids: {},
    consent: { state: 'unknown' },
    timezone: 'America/Mexico_City',
    created_at: '2026-11-01T12:00:00Z',
    updated_at: '2026-11-01T12:00:00Z',
    ...extra,
  };
}

function leadsServer(role: 'ceo' | 'marketing', permissions: string[], total = 500) {
  const session = sessionFor(role, permissions);
  const all = Array.from({ length: total }, (_, i) => lead(i));
  return installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: session }),
    'GET /api/team': () => ({ status: 200, body: { items: [session.user] } }),
    'GET /api/leads': (req) => {
      const status = req.query.get('status');
      const rows = status ? all.filter((l) => l.status === status) : all;
      const start = Number(req.query.get('cursor') ?? 0);
      const limit = Number(req.query.get('limit') ?? 50);
      const items = rows.slice(start, start + limit);
      return { status: 200, body: { items, next_cursor: start + limit < rows.length ? String(start + limit) : null } };
    },
    'POST /api/leads': () => ({ status: 409, body: { error: { code: 'duplicate_lead', message: 'duplicate', details: { existing_id: 'l7' } } } }),
  });
}

describe('leads list', () => {
  it('renders only a window of rows, sends filters as query parameters and pages with the cursor', async () => {
    const { calls } = leadsServer('ceo', CEO_PERMISSIONS);
    renderApp('/crm/leads');
    await screen.findByText('100 leads cargados · desplázate para cargar más');
    // 100 loaded, but only a screenful (plus overscan) is in the DOM.
    const rendered = screen.getAllByRole('link', { name: /^Lead \d+$/ });
    expect(rendered.length).toBeGreaterThan(5);
    expect(rendered.length).toBeLessThan(40);

    // Scrolling to the end asks for the next page with the cursor.
    const list = screen.getAllByRole('rowgroup', { name: 'Lista de leads' })[0] as HTMLElement;
    fireEvent.scroll(list, { target: { scrollTop: 100 * 52 } });
    await screen.findByText('200 leads cargados · desplázate para cargar más');
    expect(calls.filter((c) => c.path === '/api/leads').map((c) => c.query.get('cursor'))).toEqual([null, '100']);
    expect(screen.getByRole('link', { name: 'Lead 99' })).toBeInTheDocument();

    const user = userEvent.setup({ delay: null });
    await user.selectOptions(screen.getByLabelText('Estado'), 'qualified');
    await screen.findByText('Ningún lead coincide con los filtros');
    const last = calls.filter((c) => c.path === '/api/leads').at(-1);
    expect(last?.query.get('status')).toBe('qualified');
    expect(last?.query.get('limit')).toBe('100');
    expect(screen.getByRole('link', { name: 'Exportar CSV' })).toHaveAttribute('href', '/api/leads/export.csv?status=qualified');
  });

  it('shows the link to the existing lead when creating a duplicate', async () => {
    leadsServer('ceo', CEO_PERMISSIONS, 3);
    renderApp('/crm/leads');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Nuevo lead' }));
    const dialog = screen.getByRole('dialog', { name: 'Nuevo lead' });
    await user.type(within(dialog).getByLabelText('Teléfono'), '5512345678');
    await user.click(within(dialog).getByRole('button', { name: 'Crear lead' }));
    expect(await within(dialog).findByText('Ya existe un lead con ese contacto.')).toBeInTheDocument();
    expect(within(dialog).getByRole('link', { name: 'Abrir el lead existente' })).toHaveAttribute('href', '/crm/leads/l7');
  });

  it('offers marketing no create, import or bulk actions', async () => {
    leadsServer('marketing', ['leads.read', 'pipeline.read', 'marketing.read', 'marketing.manage'], 3);
    renderApp('/crm/leads');
    await screen.findByText('3 leads cargados');
    expect(screen.queryByRole('button', { name: 'Nuevo lead' })).not.toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Importar CSV' })).not.toBeInTheDocument();
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Exportar CSV' })).toBeInTheDocument();
    // The sidebar has no import entry either.
    expect(screen.queryByRole('link', { name: 'Importar leads' })).not.toBeInTheDocument();
  });
});

describe('import wizard', () => {
  it('guesses the mapping, sends it with the CSV and shows the report with line numbers', async () => {
    const session = sessionFor('ceo', CEO_PERMISSIONS);
    let sent: { mapping: string | null; body: string } | null = null;
    const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init);
      const url = new URL(req.url);
      const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
      if (url.pathname === '/api/setup') return json(200, { needs_setup: false });
      if (url.pathname === '/api/auth/me') return json(200, session);
      if (url.pathname === '/api/leads/import' && req.method === 'POST') {
        sent = { mapping: url.searchParams.get('mapping'), body: await req.text() };
        expect(req.headers.get('X-CSRF-Token')).toBe('csrf-ceo');
        return json(200, {
          rows: 3, created: 1, duplicates: 1, invalid: 1, mapping: {}, ignored_columns: ['Notas'],
          errors: [{ line: 3, field: 'email', code: 'invalid_email', reason: 'not an email' }], duplicate_lines: [4], truncated: false,
        });
      }
      return json(404, { error: { code: 'not_found', message: url.pathname } });
    });
    vi.stubGlobal('fetch', fetchMock);
    renderApp('/crm/leads/import');
    const user = userEvent.setup({ delay: null });
    const csv = 'Nombre,Celular,Correo,Notas\nAna,5512345678,ana@x.mx,hola\nLuis,,malo,\nAna 2,5512345678,,\n';
    await user.upload(await screen.findByLabelText('Elegir archivo CSV'), new File([csv], 'base.csv', { type: 'text/csv' }));
    expect(await screen.findByLabelText('Campo para Celular')).toHaveValue('phone');
    expect(screen.getByLabelText('Campo para Notas')).toHaveValue('-');
    await user.click(screen.getByRole('button', { name: 'Importar' }));
    expect(await screen.findByText('Importación terminada')).toBeInTheDocument();
    expect(sent).not.toBeNull();
    expect(JSON.parse(sent!.mapping ?? '{}')).toEqual({ Nombre: 'name', Celular: 'phone', Correo: 'email', Notas: '-' });
    expect(sent!.body).toBe(csv);
    const errors = screen.getByRole('table', { name: 'Filas con errores' });
    expect(within(errors).getByText('El email no es válido.')).toHaveAttribute('title', 'not an email');
    expect(within(errors).getByText('3')).toBeInTheDocument();
    expect(screen.getByText('Líneas duplicadas: 4')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText('Columnas ignoradas: Notas')).toBeInTheDocument());
  });
});
