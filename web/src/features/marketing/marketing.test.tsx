import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, installFakeApi, sessionFor, SELLER_PERMISSIONS, type Handler } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';

const MARKETING = ['leads.read', 'pipeline.read', 'marketing.read', 'marketing.manage'];

class NoResize {
  observe() {}
  unobserve() {}
  disconnect() {}
}

// The hub's pages are lazy chunks with recharts: the first render of a file can be slow on a busy machine.
configure({ asyncUtilTimeout: 15_000 });

beforeEach(async () => {
  await changeLanguage('es');
  vi.stubGlobal('ResizeObserver', NoResize);
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

function token(over: Record<string, unknown> = {}) {
  return {
    connected: true,
    status: 'ok',
    source: 'oauth',
    scopes: ['ads_read'],
    missing_scopes: [],
    meta_user_name: 'Ana Meta',
    ad_account: { id: 'act_1', name: 'Cuenta principal', currency: 'USD', timezone: 'America/Los_Angeles' },
    pages: [],
    ...over,
  };
}

function syncState(over: Record<string, unknown> = {}) {
  return {
    ad_account_id: 'act_1',
    account_name: 'Cuenta principal',
    currency: 'USD',
    timezone: 'America/Los_Angeles',
    status: 'ok',
    last_started_at: '2026-11-21T10:00:00Z',
    last_success_at: '2026-11-21T10:01:00Z',
    last_error: null,
    last_error_code: null,
    last_error_at: null,
    next_run_at: '2026-11-21T11:01:00Z',
    backfill_done: true,
    progress_pct: 100,
    ...over,
  };
}

const figures = {
  leads: 40,
  opportunities: 10,
  won: 4,
  customers: 3,
  sales_revenue: 4500,
  marketing_spend: 1500.5,
  roi_percentage: 199.9,
  roas: 3,
  cpa: 500.17,
  cpl: 37.51,
  lead_to_opportunity_rate: 25,
  opportunity_to_won_rate: 40,
  meta_reported_leads: 55,
  messaging_conversations_started: 7,
  impressions: 120000,
  clicks: 2400,
  ctr: 2,
  cpc: 0.63,
  cpm: 12.5,
};

function stats(over: Record<string, unknown> = {}) {
  return {
    ...figures,
    currency: 'USD',
    model: 'cohort',
    period: { since: '2026-10-23', until: '2026-11-21' },
    previous_period: { since: '2026-09-23', until: '2026-10-22' },
    leads_change: 25,
    opportunities_change: null,
    revenue_change: -10,
    spend_change: 5,
    roi_change: 12.3,
    series: [
      { date: '2026-11-20', spend: 50, revenue: 100, leads: 2 },
      { date: '2026-11-21', spend: 60, revenue: 0, leads: 1 },
    ],
    warnings: [
      { code: 'missing_fx_rate', message: 'no ARS→USD rate for 2 day(s)', details: { from: 'ARS', to: 'USD', dates: ['2026-11-01', '2026-11-02'] } },
      { code: 'timezone_differs', message: 'x', details: { ad_account_id: 'act_1', account_timezone: 'America/Los_Angeles', tenant_timezone: 'America/Mexico_City' } },
    ],
    unconverted: [{ currency: 'ARS', amount: 125000 }],
    last_synced_at: '2026-11-21T10:01:00Z',
    sync: [syncState()],
    ...over,
  };
}

const campaign = (id: string, name: string, status: string, spend: number, roi: number | null) => ({
  ...figures,
  id,
  name,
  status,
  spend,
  marketing_spend: spend,
  revenue: 100,
  roi,
  leads: 5,
  ad_account_id: 'act_1',
  objective: 'OUTCOME_LEADS',
});

function campaignList(status?: string | null) {
  const all = [campaign('111', 'Verano leads', 'ACTIVE', 1000, 20), campaign('222', 'Invierno', 'PAUSED', 500.5, null), { ...campaign('unknown', 'unknown', 'UNKNOWN', 0, null) }];
  return {
    currency: 'USD',
    model: 'cohort',
    period: { since: '2026-10-23', until: '2026-11-21' },
    items: status ? all.filter((c) => c.status === status) : all,
    totals: figures,
    unconverted: [],
    warnings: [],
    last_synced_at: '2026-11-21T10:01:00Z',
  };
}

function roi() {
  return {
    currency: 'USD',
    model: 'cohort',
    period: { since: '2026-10-23', until: '2026-11-21' },
    totals: figures,
    funnel: [
      { step: 'leads', count: 40 },
      { step: 'opportunities', count: 10 },
      { step: 'won', count: 4 },
      { step: 'customers', count: 3 },
    ],
    by_campaign: [],
    by_source: [{ channel: 'lead_form', leads: 30, opportunities: 8, won: 3, revenue: 4000 }],
    warnings: [],
    last_synced_at: null,
  };
}

function server(session: ReturnType<typeof sessionFor>, routes: Record<string, Handler> = {}) {
  return installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: session }),
    'GET /api/crm/marketing/token-status': () => ({ status: 200, body: token() }),
    'GET /api/crm/marketing/sync': () => ({ status: 200, body: [syncState()] }),
    'GET /api/crm/marketing/stats': (req) =>
      req.query.get('since') === '2026-09-23' ? { status: 200, body: stats({ cpl: 50, cpa: 400, period: { since: '2026-09-23', until: '2026-10-22' } }) } : { status: 200, body: stats() },
    'GET /api/crm/marketing/stats/roi': () => ({ status: 200, body: roi() }),
    'GET /api/crm/marketing/campaigns': (req) => ({ status: 200, body: campaignList(req.query.get('status')) }),
    ...routes,
  });
}

const kpi = (metric: string) => {
  const card = document.querySelector<HTMLElement>(`[data-metric="${metric}"]`);
  if (!card) throw new Error(`no card ${metric}`);
  return card;
};

describe('Marketing Hub', () => {
  it('shows the headline numbers formatted for the locale, with their changes, warnings and funnel', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS));
    renderApp('/crm/marketing');
    await screen.findByTestId('marketing-kpis');
    const usd = (n: number) => new Intl.NumberFormat('es', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n);
    expect(within(kpi('leads')).getByTestId('kpi-leads')).toHaveTextContent('40');
    expect(within(kpi('spend')).getByTestId('kpi-spend').textContent).toBe(usd(1500.5));
    expect(within(kpi('revenue')).getByTestId('kpi-revenue').textContent).toBe(usd(4500));
    expect(within(kpi('cpa')).getByTestId('kpi-cpa').textContent).toBe(usd(500.17));
    expect(within(kpi('roi')).getByTestId('kpi-roi').textContent).toBe(new Intl.NumberFormat('es', { style: 'percent', maximumFractionDigits: 1 }).format(1.999));
    // Changes: leads +25 % (good), revenue −10 % (bad), ROI in points, opportunities without a base.
    expect(kpi('leads').querySelector('.mk-kpi-change')).toHaveClass('mk-tone-good');
    expect(kpi('revenue').querySelector('.mk-kpi-change')).toHaveClass('mk-tone-bad');
    expect(kpi('roi')).toHaveTextContent('+12,3 pp');
    expect(kpi('opportunities')).toHaveTextContent('sin base de comparación');
    // CPL and CPA changes come from the comparison period's own stats: CPL 50 → 37.51 is down (good), CPA 400 → 500.17 up (bad).
    await waitFor(() => expect(kpi('cpl').querySelector('.mk-kpi-change')).toHaveClass('mk-tone-good'));
    expect(kpi('cpl').querySelector('.mk-kpi-change')?.getAttribute('data-change')).toBe(String(((37.51 - 50) / 50) * 100));
    expect(kpi('cpa').querySelector('.mk-kpi-change')).toHaveClass('mk-tone-bad');
    expect(calls.some((c) => c.path === '/api/crm/marketing/stats' && c.query.get('since') === '2026-09-23' && c.query.get('until') === '2026-10-22')).toBe(true);
    // Warnings of the API are shown, not swallowed.
    const warnings = screen.getByTestId('marketing-warnings');
    expect(warnings).toHaveTextContent('Falta el tipo de cambio ARS→USD de 2 días');
    expect(warnings).toHaveTextContent('America/Los_Angeles');
    expect(screen.getByTestId('unconverted').textContent).toContain(new Intl.NumberFormat('es', { style: 'currency', currency: 'ARS', minimumFractionDigits: 2 }).format(125000));
    // Meta's own lead count beside the CRM's.
    expect(document.querySelector('[data-metric="meta_reported_leads"]')).toHaveTextContent('55');
    // The funnel.
    expect(document.querySelector('[data-step="won"]')).toHaveAttribute('data-count', '4');
    expect(screen.getByText('25 % de Leads')).toBeInTheDocument();
  });

  it('keeps the range and model in the URL and asks the API for them', async () => {
    const { calls } = server(sessionFor('marketing', MARKETING));
    const { router } = renderApp('/crm/marketing?range=7d&model=activity');
    await screen.findByTestId('marketing-kpis');
    expect(calls.find((c) => c.path === '/api/crm/marketing/stats')?.query.toString()).toBe('time_range=7d&model=activity');
    const user = userEvent.setup({ delay: null });
    await user.click(screen.getByRole('button', { name: '90 días' }));
    expect(router.state.location.search).toContain('range=90d');
    await user.click(screen.getByRole('radio', { name: 'Cohorte' }));
    expect(router.state.location.search).toContain('model=cohort');
    await waitFor(() => expect(calls.some((c) => c.path === '/api/crm/marketing/campaigns' && c.query.get('time_range') === '90d' && c.query.get('model') === 'cohort')).toBe(true));
    await user.click(screen.getByRole('button', { name: 'Personalizado' }));
    await user.type(screen.getByLabelText('Desde'), '2026-01-01');
    await user.type(screen.getByLabelText('Hasta'), '2026-01-31');
    await user.click(screen.getByRole('button', { name: 'Aplicar' }));
    expect(router.state.location.search).toContain('since=2026-01-01');
    await waitFor(() => expect(calls.some((c) => c.path === '/api/crm/marketing/stats' && c.query.get('since') === '2026-01-01' && c.query.get('until') === '2026-01-31')).toBe(true));
  });

  it('lists campaigns sortable and filterable, with totals and a drill-down link carrying the period', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS));
    renderApp('/crm/marketing?range=90d');
    const table = await screen.findByRole('table', { name: 'Campañas' });
    const names = () => within(screen.getByRole('table', { name: 'Campañas' })).getAllByRole('row').slice(1, -1).map((r) => r.querySelector('[data-col="name"] a')?.textContent);
    expect(names()).toEqual(['Verano leads', 'Invierno', 'Campaña desconocida']);
    const user = userEvent.setup({ delay: null });
    // The "unknown campaign" row is a catch-all: it stays last whatever the order.
    await user.click(within(table).getByRole('button', { name: /Campaña/ }));
    expect(names()).toEqual(['Invierno', 'Verano leads', 'Campaña desconocida']);
    await user.click(within(table).getByRole('button', { name: /Campaña/ }));
    expect(names()).toEqual(['Verano leads', 'Invierno', 'Campaña desconocida']);
    // ROI: rows without a ROI stay last.
    await user.click(within(table).getByRole('button', { name: /ROI/ }));
    expect(names()[0]).toBe('Verano leads');
    expect(within(table).getByTestId('campaigns-totals').querySelector('[data-col="leads"]')).toHaveTextContent('40');
    expect(within(table).getByRole('link', { name: 'Verano leads' })).toHaveAttribute('href', '/crm/marketing/campaigns/111?range=90d&model=cohort');
    await user.selectOptions(screen.getByLabelText('Estado'), 'PAUSED');
    await waitFor(() => expect(names()).toEqual(['Invierno']));
    expect(calls.some((c) => c.path === '/api/crm/marketing/campaigns' && c.query.get('status') === 'PAUSED')).toBe(true);
  });

  it('renders only the rows in view of a long campaign list', async () => {
    const many = Array.from({ length: 500 }, (_, i) => campaign(String(1000 + i), `Campaña ${i}`, 'ACTIVE', 500 - i, null));
    server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/campaigns': () => ({ status: 200, body: { ...campaignList(), items: many } }),
    });
    renderApp('/crm/marketing');
    const body = await screen.findByRole('rowgroup', { name: 'Filas de campañas' });
    expect(body.querySelectorAll('[role="row"]').length).toBeLessThan(30);
    expect(screen.getByText('500 filas')).toBeInTheDocument();
  });

  it('shows an API failure as an error, never as zeros', async () => {
    server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/stats': () => ({ status: 500, body: { error: { code: 'internal', message: 'database unavailable' } } }),
    });
    renderApp('/crm/marketing');
    expect(await screen.findByText('No se pudieron cargar las cifras')).toBeInTheDocument();
    expect(screen.queryByTestId('marketing-kpis')).not.toBeInTheDocument();
  });

  it("shows a failing sync with Meta's message above the numbers", async () => {
    const failing = syncState({ status: 'error', last_error: '(#17) User request limit reached', last_error_code: 17, last_error_at: '2026-11-21T10:30:00Z' });
    server(sessionFor('ceo', CEO_PERMISSIONS), { 'GET /api/crm/marketing/sync': () => ({ status: 200, body: [failing] }) });
    renderApp('/crm/marketing');
    expect(await screen.findByTestId('hub-sync-error')).toHaveTextContent('(#17) User request limit reached');
    expect(await screen.findByTestId('marketing-kpis')).toBeInTheDocument();
  });

  it('shows progress instead of numbers while the first sync runs', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/sync': () => ({ status: 200, body: [syncState({ status: 'running', last_success_at: null, backfill_done: false, progress_pct: 40 })] }),
    });
    renderApp('/crm/marketing');
    expect(await screen.findByTestId('marketing-syncing')).toHaveTextContent('Sincronizando tus datos de Meta');
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '40');
    expect(screen.queryByTestId('marketing-kpis')).not.toBeInTheDocument();
    expect(calls.some((c) => c.path === '/api/crm/marketing/stats')).toBe(false);
  });

  it('shows a failed first sync as an error with Meta\'s message, not as zero numbers', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/sync': () => ({
        status: 200,
        body: [syncState({ status: 'error', last_success_at: null, backfill_done: false, progress_pct: 0, last_error: 'Error validating access token', last_error_code: 190, last_error_at: '2026-11-21T10:00:00Z' })],
      }),
    });
    renderApp('/crm/marketing');
    expect(await screen.findByTestId('marketing-first-sync-failed')).toHaveTextContent('La primera sincronización con Meta falló');
    expect(screen.getByTestId('sync-error')).toHaveTextContent('Error validating access token');
    expect(screen.queryByTestId('marketing-kpis')).not.toBeInTheDocument();
    expect(calls.some((c) => c.path === '/api/crm/marketing/stats')).toBe(false);
  });

  it('offers to connect Meta when it is not connected, and opens the wizard', async () => {
    server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: token({ connected: false, status: 'disconnected', ad_account: null, meta_user_name: null }) }),
    });
    const { router } = renderApp('/crm/marketing');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByTestId('marketing-connect'));
    expect(router.state.location.search).toBe('?connect=1');
    expect(await screen.findByTestId('meta-wizard')).toHaveAttribute('data-step', 'connect');
  });

  it('tells the marketing role to ask an admin (it cannot connect Meta itself)', async () => {
    server(sessionFor('marketing', MARKETING), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: token({ connected: false, status: 'disconnected', ad_account: null }) }),
    });
    renderApp('/crm/marketing');
    expect(await screen.findByTestId('marketing-not-connected')).toHaveTextContent('Pide a una persona con rol CEO o administrador');
    expect(screen.queryByTestId('marketing-connect')).not.toBeInTheDocument();
  });

  it('is in the navigation for ceo and marketing, not for sellers', async () => {
    server(sessionFor('marketing', MARKETING));
    renderApp('/crm/marketing');
    await screen.findByTestId('marketing-hub');
    expect(within(screen.getByRole('complementary')).getByRole('link', { name: 'Marketing Hub' })).toHaveAttribute('href', '/crm/marketing');
  });

  it('hides the hub from sellers', async () => {
    server(sessionFor('seller', SELLER_PERMISSIONS));
    renderApp('/crm/leads');
    await screen.findByRole('complementary');
    expect(within(screen.getByRole('complementary')).queryByRole('link', { name: 'Marketing Hub' })).not.toBeInTheDocument();
  });

  it('queues a sync and shows each account on the connection tab', async () => {
    let queued = false;
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/sync': () => ({ status: 200, body: [syncState(queued ? { status: 'pending' } : {})] }),
      'POST /api/crm/marketing/sync': () => {
        queued = true;
        return { status: 202, body: [syncState({ status: 'pending' })] };
      },
    });
    renderApp('/crm/marketing?tab=connection');
    const account = await screen.findByText('Cuenta principal');
    expect(account.closest('li')).toHaveAttribute('data-status', 'ok');
    const user = userEvent.setup({ delay: null });
    await user.click(screen.getByTestId('sync-now'));
    await screen.findByText('Sincronización en cola.');
    expect(calls.filter((c) => c.method === 'POST' && c.path === '/api/crm/marketing/sync')).toHaveLength(1);
    expect(await screen.findByTestId('sync-status')).toHaveTextContent('En cola');
  });

  it("lists the Conversions API ledger with Meta's rejection message", async () => {
    server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/capi/events': () => ({
        status: 200,
        body: {
          items: [
            { id: 'e1', lead_id: 'l1', stage: 'won', event_name: 'Purchase', event_id: 'crm-l1-won', event_time: '2026-11-20T10:00:00Z', action_source: 'system_generated', status: 'rejected', attempts: 1, last_error: 'Invalid parameter: lead_id', created_at: '2026-11-20T10:00:00Z', sent_at: '2026-11-20T10:00:05Z', dataset_id: '99' },
          ],
          next_cursor: null,
        },
      }),
    });
    renderApp('/crm/marketing?tab=capi');
    const row = (await screen.findByText('Purchase')).closest('tr');
    expect(row).toHaveAttribute('data-status', 'rejected');
    expect(row).toHaveTextContent('Invalid parameter: lead_id');
    expect(row).toHaveTextContent('Rechazado');
  });

  it('adds an FX rate with the reporting currency as default target', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/fx-rates': () => ({ status: 200, body: { items: [{ id: 'r1', date: '2026-11-01', from_currency: 'ARS', to_currency: 'USD', rate: '0.00105' }], next_cursor: null } }),
      'PUT /api/crm/marketing/fx-rates': (req) => ({ status: 200, body: { id: 'r2', ...(req.body as object) } }),
    });
    renderApp('/crm/marketing?tab=fx');
    expect(await screen.findByText('0.00105')).toBeInTheDocument();
    const user = userEvent.setup({ delay: null });
    await user.selectOptions(screen.getByLabelText('De'), 'ARS');
    await user.type(screen.getByLabelText('Tipo'), '0,0011');
    await user.click(screen.getByRole('button', { name: 'Guardar' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'PUT')?.body).toMatchObject({ from_currency: 'ARS', to_currency: 'USD', rate: '0.0011' }));
  });
});

describe('Lead Ads forms', () => {
  const detail = (customized: boolean, planTarget: string) => ({
    form_id: '900001',
    page_id: '150001',
    page_name: 'Tienda Demo',
    name: 'Tienda Demo - Formulario 1',
    status: 'ACTIVE',
    customized,
    updated_at: customized ? '2026-11-21T10:00:00Z' : null,
    updated_by: null,
    targets: ['full_name', 'first_name', 'last_name', 'email', 'phone', 'note', 'tag', 'ignore'],
    questions: [
      { key: 'full_name', label: 'Full name', type: 'FULL_NAME', target: 'full_name', default_target: 'full_name' },
      { key: 'email', label: 'Email', type: 'EMAIL', target: 'email', default_target: 'email' },
      { key: 'plan_de_interes', label: '¿Qué plan te interesa?', type: 'CUSTOM', target: planTarget, default_target: 'note' },
    ],
  });

  it('lists the forms and saves a mapping; the server refusal is shown', async () => {
    let refuse = true;
    const { calls } = server(sessionFor('marketing', MARKETING), {
      'GET /api/crm/marketing/lead-forms': () => ({
        status: 200,
        body: { items: [{ form_id: '900001', page_id: '150001', page_name: 'Tienda Demo', name: 'Tienda Demo - Formulario 1', status: 'ACTIVE', leads_count: 3, question_count: 3, customized: false, updated_at: null }] },
      }),
      'GET /api/crm/marketing/lead-forms/{form_id}': () => ({ status: 200, body: detail(false, 'note') }),
      'PUT /api/crm/marketing/lead-forms/{form_id}/mapping': () => {
        if (refuse) {
          refuse = false;
          return {
            status: 422,
            body: {
              error: {
                code: 'unknown_question',
                message: '"ciudad" is not a question of the form',
                details: { unknown_keys: ['ciudad'], questions: ['full_name', 'email', 'plan_de_interes'] },
              },
            },
          };
        }
        return { status: 200, body: detail(true, 'tag') };
      },
    });
    renderApp('/crm/marketing?tab=leadForms');
    expect(await screen.findByText('Predeterminado')).toBeInTheDocument();
    const plan = await screen.findByLabelText('¿Qué plan te interesa?');
    const user = userEvent.setup({ delay: null });
    await user.selectOptions(plan, 'tag');
    await user.click(screen.getByRole('button', { name: /Guardar mapeo/ }));
    // The refusal in the user's language, with the form's questions from `details`.
    expect(
      await screen.findByText('ciudad: no es una pregunta de este formulario. Sus preguntas son: full_name, email, plan_de_interes.'),
    ).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: /Guardar mapeo/ }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'PUT').length).toBe(2));
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ mapping: { full_name: 'full_name', email: 'email', plan_de_interes: 'tag' } });
    expect(await screen.findByText(/Mapeo personalizado/)).toBeInTheDocument();
  });
});

describe('campaign drill-down', () => {
  it('shows the campaign, its daily chart and its ads with their creatives', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/campaigns/{id}': () => ({
        status: 200,
        body: {
          campaign: campaign('111', 'Verano leads', 'ACTIVE', 1000, 20),
          ads: [{ ...figures, id: 'ad-1', name: 'Anuncio A', status: 'ACTIVE', adset_id: 'as-1', creative_title: 'Tu casa nueva', creative_body: 'Cuotas fijas en pesos', marketing_spend: 700 }],
          currency: 'USD',
          model: 'cohort',
          period: { since: '2026-08-24', until: '2026-11-21' },
          status_history: [{ from_status: 'PAUSED', to_status: 'ACTIVE', observed_at: '2026-11-01T00:00:00Z' }],
          warnings: [],
          last_synced_at: null,
        },
      }),
      'GET /api/crm/marketing/campaigns/{id}/insights': () => ({
        status: 200,
        body: { campaign_id: '111', currency: 'USD', period: { since: '2026-08-24', until: '2026-11-21' }, items: [{ date: '2026-11-20', spend: 10, revenue: 0, leads: 1, meta_reported_leads: 1, impressions: 100, clicks: 2 }], warnings: [] },
      }),
    });
    renderApp('/crm/marketing/campaigns/111?range=90d&model=cohort');
    expect(await screen.findByRole('heading', { name: 'Verano leads' })).toBeInTheDocument();
    expect(screen.getByTestId('creative-title')).toHaveTextContent('Tu casa nueva');
    expect(screen.getByText('Cuotas fijas en pesos')).toBeInTheDocument();
    expect(within(screen.getByTestId('campaign-kpis')).getByTestId('kpi-spend').textContent).toBe(
      new Intl.NumberFormat('es', { style: 'currency', currency: 'USD', minimumFractionDigits: 2 }).format(1000),
    );
    expect(await screen.findByRole('figure')).toHaveAttribute('data-bucket', 'day');
    expect(calls.find((c) => c.path === '/api/crm/marketing/campaigns/111')?.query.get('time_range')).toBe('90d');
    expect(screen.getByRole('link', { name: /Volver al Marketing Hub/ })).toHaveAttribute('href', '/crm/marketing?range=90d&model=cohort');
  });
});
