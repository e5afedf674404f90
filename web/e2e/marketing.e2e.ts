import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, SCREENSHOT_DIR, screenshot, startServer, type RunningServer } from './harness';

// The Marketing Hub after the Meta wizard and a real sync against the sandbox:
// every figure on screen must equal what the API answers, formatted for the
// locale and the currency; then a drill-down into the top campaign.

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };
const SANDBOX = /Meta sandbox at (http:\/\/127\.0\.0\.1:\d+)/;

type Json = Record<string, unknown>;

/** A screenshot of one part of the page (for the user guide). */
async function part(page: Page, selector: string, name: string): Promise<void> {
  const el = page.locator(selector).first();
  // Centre it, clear of the sticky top bar.
  await el.evaluate((node) => node.scrollIntoView({ block: 'center' }));
  await el.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

/** GET (or send) JSON through the page, with its session cookie and CSRF token. */
async function api<T = Json>(page: Page, path: string, method = 'GET', body?: unknown): Promise<T> {
  return page.evaluate(
    async ({ path, method, body }) => {
      const headers: Record<string, string> = {};
      if (method !== 'GET') {
        const me = (await (await fetch('/api/auth/me', { credentials: 'same-origin' })).json()) as { csrf_token: string };
        headers['X-CSRF-Token'] = me.csrf_token;
        headers['Content-Type'] = 'application/json';
      }
      const r = await fetch(path, { method, credentials: 'same-origin', headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
      return (text ? JSON.parse(text) : null) as T;
    },
    { path, method, body },
  );
}

interface SyncState {
  ad_account_id: string;
  status: string;
  last_success_at: string | null;
  backfill_done: boolean;
  progress_pct: number;
  last_error: string | null;
}

async function waitForSync(page: Page, timeoutMs: number): Promise<SyncState[]> {
  const until = Date.now() + timeoutMs;
  let states: SyncState[] = [];
  while (Date.now() < until) {
    states = await api<SyncState[]>(page, '/api/crm/marketing/sync');
    if (states.length > 0 && states.every((s) => s.last_success_at && s.backfill_done && s.status !== 'running' && s.status !== 'pending')) return states;
    await page.waitForTimeout(1000);
  }
  throw new Error(`the sync did not finish within ${timeoutMs} ms: ${JSON.stringify(states)}`);
}

/** Wait until the hub has no request in flight (the numbers on screen are the final ones). */
async function settled(page: Page): Promise<void> {
  try {
    await page.locator('.mk-overview[data-busy="false"]').waitFor({ timeout: 30_000 });
  } catch (e) {
    await screenshot(page, 'marketing-failed-settle');
    const still = await page.locator('.mk-overview').getAttribute('data-fetching').catch(() => null);
    throw new Error(`the hub did not settle (still fetching: ${still}): ${String(e)}`);
  }
  await page.locator('[data-metric="leads"]').first().waitFor();
}

/** What the hub should print for an API number: the same Intl rules, computed in the browser. */
async function formatted(page: Page, values: { kind: 'count' | 'money' | 'percent'; value: number | null | undefined }[], currency: string, locale: string): Promise<string[]> {
  return page.evaluate(
    ({ values, currency, locale }) =>
      values.map(({ kind, value }) => {
        if (value === null || value === undefined) return '—';
        if (kind === 'count') return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
        if (kind === 'percent') return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(value / 100);
        const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
        return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
      }),
    { values, currency, locale },
  );
}

const KPIS: [string, string, 'count' | 'money' | 'percent'][] = [
  ['leads', 'leads', 'count'],
  ['opportunities', 'opportunities', 'count'],
  ['revenue', 'sales_revenue', 'money'],
  ['spend', 'marketing_spend', 'money'],
  ['roi', 'roi_percentage', 'percent'],
  ['cpl', 'cpl', 'money'],
  ['cpa', 'cpa', 'money'],
];

async function expectKpisEqualApi(page: Page, stats: Json, locale: string): Promise<void> {
  const currency = stats.currency as string;
  const expected = await formatted(
    page,
    KPIS.map(([, field, kind]) => ({ kind, value: stats[field] as number | null })),
    currency,
    locale,
  );
  for (const [i, [metric, field]] of KPIS.entries()) {
    const card = page.locator(`[data-testid="marketing-kpis"] [data-metric="${metric}"]`);
    const raw = stats[field] as number | null | undefined;
    expect(await card.getAttribute('data-value'), `${metric} raw`).toBe(raw === null || raw === undefined ? '' : String(raw));
    expect((await card.getByTestId(`kpi-${metric}`).textContent())?.trim(), `${metric} text`).toBe(expected[i]);
  }
  // The changes the API computed (leads, opportunities, revenue, spend, ROI) are the ones shown.
  for (const [metric, field] of [
    ['leads', 'leads_change'],
    ['opportunities', 'opportunities_change'],
    ['revenue', 'revenue_change'],
    ['spend', 'spend_change'],
    ['roi', 'roi_change'],
  ] as const) {
    const v = stats[field] as number | null | undefined;
    const shown = await page.locator(`[data-testid="marketing-kpis"] [data-metric="${metric}"] .mk-kpi-change`).getAttribute('data-change');
    expect(shown, `${metric} change`).toBe(v === null || v === undefined ? '' : String(v));
  }
}

async function expectCampaignRowsEqualApi(page: Page, list: Json, locale: string): Promise<number> {
  const currency = list.currency as string;
  const items = list.items as Json[];
  const byId = new Map(items.map((c) => [c.id as string, c]));
  const rows = await page.locator('[role="rowgroup"][aria-label] [role="row"]').evaluateAll((els) =>
    els.map((el) => ({
      href: el.querySelector('[data-col="name"] a')?.getAttribute('href') ?? '',
      spend: el.querySelector('[data-col="spend"]')?.textContent ?? '',
      leads: el.querySelector('[data-col="leads"]')?.textContent ?? '',
      revenue: el.querySelector('[data-col="revenue"]')?.textContent ?? '',
    })),
  );
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) {
    const id = decodeURIComponent(/\/campaigns\/([^?]+)/.exec(r.href)?.[1] ?? '');
    const c = byId.get(id);
    expect(c, `row ${id} is in the API answer`).toBeDefined();
    if (!c) continue;
    const [spend, leads, revenue] = await formatted(
      page,
      [
        { kind: 'money', value: c.spend as number },
        { kind: 'count', value: c.leads as number },
        { kind: 'money', value: c.revenue as number },
      ],
      currency,
      locale,
    );
    expect([r.spend, r.leads, r.revenue], `campaign ${id}`).toEqual([spend, leads, revenue]);
  }
  const totals = list.totals as Json;
  const [tSpend, tLeads] = await formatted(
    page,
    [
      { kind: 'money', value: totals.marketing_spend as number },
      { kind: 'count', value: totals.leads as number },
    ],
    currency,
    locale,
  );
  const foot = page.getByTestId('campaigns-totals');
  expect(await foot.locator('[data-col="spend"]').textContent()).toBe(tSpend);
  expect(await foot.locator('[data-col="leads"]').textContent()).toBe(tLeads);
  return rows.length;
}

describe('Marketing Hub in the browser after the Meta wizard and a sandbox sync', () => {
  let server: RunningServer;
  let sandbox: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const previous = process.env.CRM_META_SANDBOX;
    process.env.CRM_META_SANDBOX = 'true';
    try {
      server = await startServer();
    } finally {
      if (previous === undefined) delete process.env.CRM_META_SANDBOX;
      else process.env.CRM_META_SANDBOX = previous;
    }
    const found = SANDBOX.exec(server.output());
    if (!found?.[1]) throw new Error(`no sandbox URL in the server output:\n${server.output()}`);
    sandbox = found[1];
    const res = await fetch(`${server.url}/api/setup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_name: 'Acme', currency: 'USD', timezone: 'America/Los_Angeles', locale: 'es', country: 'US', ...CEO }),
    });
    expect(res.status).toBe(201);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale: 'es-US' });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('connects, syncs, shows the API figures, drills into a campaign and shows the ledger and FX tabs', async () => {
    try {
      await journey();
    } catch (e) {
      await screenshot(page, 'marketing-failure');
      throw e;
    }
    // A first sync plus some forty page loads: give a busy machine room.
  }, 420_000);

  async function journey(): Promise<void> {
    await page.goto(`${server.url}/crm/marketing`);
    await page.waitForURL('**/login?next=*');
    await page.getByLabel('Correo electrónico').fill(CEO.email);
    await page.getByLabel('Contraseña').fill(CEO.password);
    await page.getByRole('button', { name: 'Entrar' }).click();

    // Not connected: the call to action opens the wizard right here.
    await page.getByTestId('marketing-not-connected').waitFor();
    // Conversions API on, to the sandbox's dataset, so funnel events fill the ledger.
    const world = (await (await fetch(`${sandbox}/_sandbox/world`)).json()) as { datasets: { id: string }[] };
    const dataset = world.datasets[0]?.id;
    expect(dataset).toBeTruthy();
    await api(page, '/api/crm/marketing/capi/settings', 'PUT', {
      enabled: true,
      dataset_id: dataset,
      lead_event_source: 'CRM Ventas',
      stage_events: { lead_created: 'initial_lead', lead_qualified: 'qualified_lead', opportunity_created: 'sales_opportunity', opportunity_won: 'converted' },
    });
    await screenshot(page, 'marketing-01-not-connected');
    await page.getByTestId('marketing-connect').click();
    await page.getByTestId('meta-connect').click();
    await page.waitForURL(`${sandbox}/**`);
    await page.getByRole('button', { name: 'Continue' }).click();

    // Back on the hub (the OAuth return), the wizard goes on: business, ad account, assets.
    await page.waitForURL(`${server.url}/crm/marketing?connected=1**`);
    await page.getByTestId('meta-business').first().click();
    const cards = page.getByTestId('meta-ad-account');
    await cards.first().waitFor();
    // An account in the reporting currency (USD), so no FX rate is needed for spend.
    await cards.filter({ hasText: 'Ventas USA' }).first().click();
    await page.getByTestId('meta-phone').first().waitFor();
    await page.getByTestId('meta-phone').first().check();
    await page.getByTestId('meta-page').first().check();
    await page.getByTestId('meta-save-assets').click();
    await page.getByTestId('meta-wizard-done').waitFor();
    await page.getByRole('button', { name: 'OK' }).click();

    // Connected, first sync under way: progress, not zeros.
    const syncingOrDone = await Promise.race([
      page.getByTestId('marketing-syncing').waitFor().then(() => 'syncing'),
      page.getByTestId('marketing-kpis').waitFor().then(() => 'done'),
    ]);
    if (syncingOrDone === 'syncing') await screenshot(page, 'marketing-02-syncing');
    const states = await waitForSync(page, 240_000);
    expect(states.every((s) => s.status === 'ok')).toBe(true);

    // A little CRM data on top of the synced spend: two Meta leads on the top
    // campaign's first ad, one with an opportunity and a paid sale.
    const list30 = await api<Json>(page, '/api/crm/marketing/campaigns?time_range=30d&model=cohort');
    const top = (list30.items as Json[]).filter((c) => c.id !== 'unknown').sort((a, b) => (b.spend as number) - (a.spend as number))[0];
    expect(top, 'the sync brought campaigns with spend').toBeDefined();
    const topId = top?.id as string;
    const detail = await api<Json>(page, `/api/crm/marketing/campaigns/${topId}?time_range=30d`);
    const ad = (detail.ads as Json[])[0];
    expect(ad).toBeDefined();
    const leadIds: string[] = [];
    for (const [i, name] of ['Lucía Gómez', 'Pedro Ruiz'].entries()) {
      const lead = await api<Json>(page, '/api/leads', 'POST', {
        name,
        email: `lead${i}@example.com`,
        attribution: { utm_source: 'facebook', utm_medium: 'paid', meta_campaign_id: topId, meta_ad_id: ad?.id, meta_adset_id: ad?.adset_id ?? null },
      });
      leadIds.push(lead.id as string);
    }
    const opp = await api<Json>(page, '/api/opportunities', 'POST', { lead_id: leadIds[0], name: 'Plan anual', value_minor: 250_000, currency: 'USD' });
    await api(page, '/api/sales', 'POST', { opportunity_id: opp.id, amount_minor: 250_000, currency: 'USD', method: 'card' });

    // The numbers settle (rollups may trail the writes by a moment).
    let stats = await api<Json>(page, '/api/crm/marketing/stats?time_range=30d&model=cohort');
    for (let i = 0; i < 30 && (stats.sales_revenue as number) < 2500; i++) {
      await page.waitForTimeout(500);
      stats = await api<Json>(page, '/api/crm/marketing/stats?time_range=30d&model=cohort');
    }
    expect(stats.sales_revenue as number).toBeGreaterThanOrEqual(2500);
    expect(stats.marketing_spend as number).toBeGreaterThan(0);

    await page.goto(`${server.url}/crm/marketing?range=30d&model=cohort`);
    await settled(page);
    await expectKpisEqualApi(page, stats, 'es');
    await screenshot(page, 'marketing-03-overview');
    await part(page, '[data-testid="marketing-kpis"]', 'marketing-doc-kpis');

    // Another range (7 days, activity model) follows the URL and still equals the API.
    await page.getByRole('button', { name: '7 días' }).click();
    await page.getByRole('radio', { name: 'Actividad' }).click();
    await page.waitForURL('**range=7d**model=activity**');
    await settled(page);
    const stats7 = await api<Json>(page, '/api/crm/marketing/stats?time_range=7d&model=activity');
    await expectKpisEqualApi(page, stats7, 'es');

    // The campaigns table (90 days): the rendered rows and the totals equal the API.
    await page.goto(`${server.url}/crm/marketing?range=90d&model=cohort`);
    await settled(page);
    const list90 = await api<Json>(page, '/api/crm/marketing/campaigns?time_range=90d&model=cohort');
    const rendered = await expectCampaignRowsEqualApi(page, list90, 'es');
    expect(rendered).toBeLessThanOrEqual((list90.items as Json[]).length);
    await page.locator('.mk-campaigns-card').scrollIntoViewIfNeeded();
    await screenshot(page, 'marketing-04-campaigns');
    await part(page, '.mk-campaigns-card', 'marketing-doc-campaigns');
    // CSV export: one line per API row plus the header, amounts as plain numbers.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Exportar CSV' }).click()]);
    const csvPath = await download.path();
    const csv = readFileSync(csvPath, 'utf8').replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(csv[0]?.startsWith('id,name,status,currency,spend,leads')).toBe(true);
    expect(csv.length).toBe((list90.items as Json[]).length + 1);
    const topLine = csv.find((l) => l.startsWith(`${topId},`));
    expect(topLine).toContain(`,USD,${String((list90.items as Json[]).find((c) => c.id === topId)?.spend)},`);
    await part(page, '.mk-grid', 'marketing-doc-chart-funnel');

    // Drill down into the top campaign: its figures and ads equal the API.
    await page.locator(`[data-testid="campaign-link"][href^="/crm/marketing/campaigns/${topId}?"]`).click();
    await page.getByTestId('marketing-campaign').waitFor();
    await page.getByTestId('campaign-kpis').waitFor();
    const d90 = await api<Json>(page, `/api/crm/marketing/campaigns/${topId}?time_range=90d&model=cohort`);
    const c = d90.campaign as Json;
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(c.name);
    const [spend, leads] = await formatted(
      page,
      [
        { kind: 'money', value: c.spend as number },
        { kind: 'count', value: c.leads as number },
      ],
      d90.currency as string,
      'es',
    );
    expect(await page.getByTestId('campaign-kpis').getByTestId('kpi-spend').textContent()).toBe(spend);
    expect(await page.getByTestId('campaign-kpis').getByTestId('kpi-leads').textContent()).toBe(leads);
    expect(c.leads as number).toBeGreaterThanOrEqual(2);
    const ads = d90.ads as Json[];
    expect(await page.locator('[data-ad]').count()).toBe(ads.length);
    const firstTitle = ads.find((a) => a.creative_title)?.creative_title as string | undefined;
    if (firstTitle) await page.getByTestId('creative-title').filter({ hasText: firstTitle }).first().waitFor();
    await page.locator('figure.mk-chart').waitFor();
    await screenshot(page, 'marketing-05-campaign');
    await part(page, '.mk-ads', 'marketing-doc-ads');

    // Connection and sync per account, the Conversions API ledger, FX rates.
    await page.goto(`${server.url}/crm/marketing?tab=connection`);
    await page.locator('.mk-account').first().waitFor();
    expect(await page.getByTestId('sync-status').first().textContent()).toBe('Al día');
    await screenshot(page, 'marketing-06-connection');
    await page.goto(`${server.url}/crm/marketing?tab=capi`);
    await page.getByRole('heading', { name: 'Registro de la Conversions API' }).waitFor();
    await page.locator('.mk-ledger, .state-empty').first().waitFor();
    const ledger = await api<Json>(page, '/api/crm/marketing/capi/events?limit=50');
    const ledgerItems = ledger.items as Json[];
    if (ledgerItems.length > 0) {
      // The first page on screen is the API's first page, each with its status.
      await page.locator('.mk-ledger').waitFor();
      expect(await page.locator('.mk-ledger tbody tr').count()).toBe(ledgerItems.length);
      expect(await page.locator('.mk-ledger tbody tr').first().getAttribute('data-status')).toBe(ledgerItems[0]?.status);
    }
    await screenshot(page, 'marketing-07-capi');
    await page.goto(`${server.url}/crm/marketing?tab=fx`);
    await page.getByRole('heading', { name: 'Tipos cargados' }).waitFor();
    await page.getByLabel('De', { exact: true }).selectOption('ARS');
    await page.getByLabel('Tipo', { exact: true }).fill('0.00105');
    await page.getByRole('button', { name: 'Guardar' }).click();
    await page.locator('[data-fx$=":ARS:USD"]').waitFor();
    // CSV import: all rows in one go.
    await page.getByLabel('Contenido CSV').fill('date,from_currency,rate\n2026-11-02,ARS,0.0011\n2026-11-03,ARS,0.0012\n');
    await page.getByRole('button', { name: 'Importar', exact: true }).click();
    await page.getByText('2 tipos importados').waitFor();
    await page.locator('[data-fx="2026-11-03:ARS:USD"]').waitFor();
    const rates = await api<Json>(page, '/api/crm/marketing/fx-rates');
    expect((rates.items as Json[]).some((r) => r.from_currency === 'ARS' && r.rate === '0.00105')).toBe(true);
    expect((rates.items as Json[]).filter((r) => r.from_currency === 'ARS')).toHaveLength(3);
    await screenshot(page, 'marketing-08-fx');

    // The same hub in English: figures formatted for the "en" locale.
    await page.goto(`${server.url}/crm/marketing?range=30d&model=cohort`);
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByRole('heading', { name: 'Marketing Hub', level: 1 }).waitFor();
    await page.getByText('Spend vs. revenue').waitFor();
    await settled(page);
    await expectKpisEqualApi(page, await api<Json>(page, '/api/crm/marketing/stats?time_range=30d&model=cohort'), 'en');
    await screenshot(page, 'marketing-en-overview');
    await part(page, '[data-testid="marketing-kpis"]', 'marketing-en-doc-kpis');
    await part(page, '.mk-grid', 'marketing-en-doc-chart-funnel');
    await page.locator('.mk-campaigns-card').scrollIntoViewIfNeeded();
    await part(page, '.mk-campaigns-card', 'marketing-en-doc-campaigns');
    await page.goto(`${server.url}/crm/marketing/campaigns/${topId}?range=90d&model=cohort`);
    await page.getByTestId('campaign-kpis').waitFor();
    await page.locator('figure.mk-chart').waitFor();
    await screenshot(page, 'marketing-en-campaign');
    await part(page, '.mk-ads', 'marketing-en-doc-ads');

    for (const tab of ['connection', 'capi', 'fx']) {
      await page.goto(`${server.url}/crm/marketing?tab=${tab}`);
      await page.locator('[role="tabpanel"] .card, [role="tabpanel"] .mk-section').first().waitFor();
      await page.locator('.state-loading').waitFor({ state: 'detached' });
      await screenshot(page, `marketing-en-${tab}`);
    }

    // A Meta failure: the token expires, "sync now" fails, and the hub shows
    // Meta's message as an error above the last good numbers (never zeros).
    const expired = await fetch(`${sandbox}/_sandbox/tokens/expire`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ all: true }) });
    expect(expired.status).toBe(200);
    await page.goto(`${server.url}/crm/marketing?range=30d&model=cohort`);
    await settled(page);
    await page.getByTestId('sync-now').first().click();
    let failed: SyncState[] = [];
    for (let i = 0; i < 120; i++) {
      failed = await api<SyncState[]>(page, '/api/crm/marketing/sync');
      if (failed.some((s) => s.status === 'error' && s.last_error)) break;
      await page.waitForTimeout(1000);
    }
    const broken = failed.find((s) => s.status === 'error');
    expect(broken?.last_error, JSON.stringify(failed)).toBeTruthy();
    const alert = page.getByTestId('hub-sync-error');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.textContent()).toContain(broken?.last_error ?? '');
    // The numbers are still the last synced ones, equal to the API.
    await settled(page);
    await expectKpisEqualApi(page, await api<Json>(page, '/api/crm/marketing/stats?time_range=30d&model=cohort'), 'en');
    await screenshot(page, 'marketing-en-sync-error');
    await page.goto(`${server.url}/crm/marketing?tab=connection`);
    await page.getByTestId('sync-error').first().waitFor();
    expect(await page.getByTestId('sync-error').first().textContent()).toContain(broken?.last_error ?? '');
    await screenshot(page, 'marketing-en-sync-error-detail');
    // The same in Spanish.
    await page.getByRole('button', { name: 'ES', exact: true }).click();
    await page.getByText('Último error de Meta').waitFor();
    await screenshot(page, 'marketing-10-sync-error-detail');
    await page.goto(`${server.url}/crm/marketing?range=30d&model=cohort`);
    await page.getByTestId('hub-sync-error').waitFor();
    await settled(page);
    await screenshot(page, 'marketing-09-sync-error');
  }
});
