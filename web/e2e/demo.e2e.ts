import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { crmBinary, launchBrowser, screenshot } from './harness';

// `crm demo` end to end: the demo as a newcomer meets it (small world, fast
// live simulation, a temporary data folder, a free port).

const PASSWORD = 'demo-ventas-2026';
const LISTENING = /CRM Ventas listening on (http:\/\/127\.0\.0\.1:\d+)/;
const SANDBOX = /Meta sandbox at (http:\/\/127\.0\.0\.1:\d+)/;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

interface Demo {
  url: string;
  sandbox: string;
  output: () => string;
  stop: () => Promise<void>;
}

async function startDemo(timeoutMs = 150_000): Promise<Demo> {
  const bin = crmBinary();
  if (!existsSync(bin)) throw new Error(`crm binary not found at ${bin}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-demo-e2e-'));
  const child: ChildProcess = spawn(bin, ['demo', '--port', '0', '--size', 'small', '--speed', '4', '--data-dir', dataDir], {
    env: { ...process.env, NO_COLOR: '1', CRM_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const output = () => log;
  const [url, sandbox] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crm demo was not ready within ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const clean = log.replace(ANSI, '');
      const u = LISTENING.exec(clean);
      const s = SANDBOX.exec(clean);
      if (u?.[1] && s?.[1]) {
        clearTimeout(timer);
        resolve([u[1], s[1]]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`crm demo exited early (code ${code}):\n${log}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000));
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, sandbox, output, stop };
}

async function api<T = unknown>(page: Page, path: string): Promise<{ status: number; body: T }> {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin' });
    return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? await r.json() : null };
  }, path);
}

async function signIn(browser: Browser, url: string, email: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.sidebar-nav').waitFor();
  return { context, page };
}

async function navTargets(page: Page): Promise<string[]> {
  return page.locator('.sidebar-nav a.nav-link').evaluateAll((links) => links.map((a) => new URL((a as HTMLAnchorElement).href).pathname));
}

async function eventually<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface Lead {
  id: string;
  name: string;
  owner_id: string | null;
  lead_source: string;
  created_at: string;
}
interface Run {
  lead_id: string;
  status: string;
  rule_name?: string | null;
  rendered?: string | null;
}

describe('crm demo', () => {
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    demo = await startDemo();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    // The log of the whole run has no ERROR line.
    const errors = (demo?.output() ?? '').split('\n').filter((l) => l.includes('"level":"ERROR"'));
    expect(errors).toEqual([]);
  });

  it('prints a login per role, and each role sees only what it may', async () => {
    for (const role of ['ceo', 'admin', 'marketing', 'seller']) expect(demo.output()).toContain(`${role}@demo.test`);

    const seen: Record<string, { nav: string[]; stats: number; team: number; hsm: number; leads: Lead[]; me: string }> = {};
    for (const role of ['ceo', 'admin', 'marketing', 'seller']) {
      const { context, page } = await signIn(browser, demo.url, `${role}@demo.test`);
      // Every page says Meta is the sandbox.
      await page.getByTestId('meta-sandbox-banner').waitFor();
      await screenshot(page, `demo-01-home-${role}`);
      const me = await api<{ user: { id: string } }>(page, '/api/auth/me');
      seen[role] = {
        nav: await navTargets(page),
        stats: (await api(page, '/api/crm/marketing/stats?time_range=30d')).status,
        team: (await api(page, '/api/team')).status,
        hsm: (await api(page, '/api/crm/marketing/automation/rules')).status,
        leads: (await api<{ items: Lead[] }>(page, '/api/leads?limit=500')).body.items,
        me: me.body.user.id,
      };
      await context.close();
    }
    // Team, audit and the Meta settings: ceo and admin only.
    for (const role of ['ceo', 'admin']) {
      expect(seen[role]!.nav).toEqual(expect.arrayContaining(['/team', '/audit', '/settings/meta']));
      expect(seen[role]!.team).toBe(200);
      expect(seen[role]!.hsm).toBe(200);
      expect(seen[role]!.stats).toBe(200);
    }
    for (const role of ['marketing', 'seller']) {
      expect(seen[role]!.nav).not.toContain('/team');
      expect(seen[role]!.nav).not.toContain('/audit');
      expect(seen[role]!.nav).not.toContain('/settings/meta');
      expect(seen[role]!.team).toBe(403);
      expect(seen[role]!.hsm).toBe(403);
    }
    // Marketing reads the numbers; the seller does not.
    expect(seen.marketing!.stats).toBe(200);
    expect(seen.seller!.stats).toBe(403);
    // The seller sees only their own leads; the CEO sees everyone's.
    const seller = seen.seller!;
    expect(seller.leads.length).toBeGreaterThan(0);
    expect(seller.leads.every((l) => l.owner_id === seller.me)).toBe(true);
    expect(seen.ceo!.leads.length).toBeGreaterThan(seller.leads.length);
    expect(seen.ceo!.leads.some((l) => l.owner_id !== seller.me)).toBe(true);
  });

  it('has a believable ROI story in the API numbers', async () => {
    const { context, page } = await signIn(browser, demo.url, 'marketing@demo.test');
    const stats = await api<{ marketing_spend: number; sales_revenue: number; roi_percentage: number | null; cpl: number | null; leads: number; currency: string }>(
      page,
      '/api/crm/marketing/stats?time_range=30d',
    );
    expect(stats.status).toBe(200);
    expect(stats.body.currency).toBe('USD');
    expect(stats.body.marketing_spend).toBeGreaterThan(0);
    expect(stats.body.sales_revenue).toBeGreaterThan(0);
    expect(stats.body.cpl).toBeGreaterThan(0);
    expect(stats.body.roi_percentage).not.toBeNull();
    const camps = await api<{ items: { id: string; spend: number; leads: number; roi: number | null }[] }>(page, '/api/crm/marketing/campaigns?time_range=all');
    const rows = camps.body.items.filter((c) => c.id !== 'unknown');
    // Some campaigns pay off, some lose money, one has spend and no CRM lead.
    expect(rows.some((c) => (c.roi ?? 0) > 0)).toBe(true);
    expect(rows.some((c) => c.spend > 0 && (c.roi ?? 0) < 0)).toBe(true);
    expect(rows.some((c) => c.spend > 0 && c.leads === 0)).toBe(true);
    // Leads whose ad the CRM does not know have their own row.
    expect(camps.body.items.some((c) => c.id === 'unknown' && c.leads > 0)).toBe(true);
    await context.close();
  });

  it('the Marketing Hub shows spend, revenue, ROI and CPL equal to the API', async () => {
    const { context, page } = await signIn(browser, demo.url, 'marketing@demo.test');
    // Every stats answer the page itself receives from the API.
    let last: Record<string, unknown> | null = null;
    page.on('response', (r) => {
      const u = new URL(r.url());
      // The page also asks for the previous period (with since/until) to
      // compute the CPL/CPA changes: only the headline answer counts.
      if (u.pathname === '/api/crm/marketing/stats' && !u.searchParams.has('since') && r.status() === 200) {
        void r.json().then((j: Record<string, unknown>) => {
          last = j;
        });
      }
    });
    await page.goto(`${demo.url}/crm/marketing`);
    await page.locator('[data-testid="marketing-kpis"] [data-metric="spend"]').waitFor();
    const metrics: [string, string][] = [
      ['spend', 'marketing_spend'],
      ['revenue', 'sales_revenue'],
      ['roi', 'roi_percentage'],
      ['cpl', 'cpl'],
    ];
    // The live simulation keeps changing the numbers: compare what is shown
    // with the answer it was drawn from.
    const shown = await eventually('the KPIs to match the API answer', async () => {
      const api = last;
      if (!api) return null;
      const vals: Record<string, number> = {};
      for (const [metric, field] of metrics) {
        const v = await page.locator(`[data-testid="marketing-kpis"] [data-metric="${metric}"]`).getAttribute('data-value');
        if (v === null || v === '' || Number(v) !== api[field]) return null;
        vals[metric] = Number(v);
      }
      return vals;
    }, 30_000);
    expect(shown.spend).toBeGreaterThan(0);
    expect(shown.revenue).toBeGreaterThan(0);
    expect(shown.cpl).toBeGreaterThan(0);
    expect(shown.roi).not.toBe(0);
    await page.waitForTimeout(1000);
    await screenshot(page, 'demo-08-marketing-hub');
    await context.close();
  });

  it('a new lead arrives and automation answers it', async () => {
    const { context, page } = await signIn(browser, demo.url, 'ceo@demo.test');
    const before = new Set((await api<{ items: Lead[] }>(page, '/api/leads?limit=100')).body.items.map((l) => l.id));
    await page.goto(`${demo.url}/crm/leads`);
    await page.getByRole('table').waitFor();
    // A lead that was not there when we looked arrives from Meta.
    const fresh = await eventually('a new Meta lead', async () => {
      const items = (await api<{ items: Lead[] }>(page, '/api/leads?limit=20')).body.items;
      return items.find((l) => !before.has(l.id) && l.lead_source === 'META_ADS');
    });
    await page.reload();
    await page.getByRole('link', { name: fresh.name }).first().waitFor();
    await screenshot(page, 'demo-02-new-lead-in-list');
    // The welcome rule sends it a WhatsApp template, and Meta (the sandbox) delivers it.
    const run = await eventually('the welcome message to go out', async () => {
      const runs = (await api<{ items: Run[] }>(page, `/api/crm/marketing/automation-logs?lead_id=${fresh.id}`)).body.items;
      return runs.find((r) => r.lead_id === fresh.id && ['sent', 'delivered', 'read'].includes(r.status));
    });
    expect(run.rule_name).toBe('Bienvenida a leads de Meta');
    expect(run.rendered ?? '').toContain(`Hola ${fresh.name.split(' ')[0]}, gracias`);
    const received = (await (await fetch(`${demo.sandbox}/_sandbox/received/messages`)).json()) as { data: unknown[] };
    expect(received.data.length).toBeGreaterThan(0);
    await page.getByRole('link', { name: fresh.name }).first().click();
    await page.waitForURL(`**/crm/leads/${fresh.id}`);
    await page.getByRole('heading', { name: fresh.name }).first().waitFor();
    await screenshot(page, 'demo-03-new-lead-detail');
    await context.close();
  });

  it('disconnects and connects again through the wizard', async () => {
    const { context, page } = await signIn(browser, demo.url, 'admin@demo.test');
    await page.goto(`${demo.url}/settings/meta`);
    await page.getByTestId('meta-status').getByText('Connected').waitFor();
    await screenshot(page, 'demo-04-meta-connected');
    await page.getByRole('button', { name: 'Disconnect' }).first().click();
    await page.getByRole('dialog').getByRole('button', { name: 'Disconnect' }).click();
    await page.getByTestId('meta-status').getByText('Not connected').waitFor();
    // The wizard says the dialog is the sandbox's.
    await page.getByTestId('meta-wizard-sandbox').waitFor();
    await screenshot(page, 'demo-05-disconnected');
    await page.getByTestId('meta-connect').click();
    await page.waitForURL(`${demo.sandbox}/**`);
    await page.getByText('META SANDBOX').first().waitFor();
    await screenshot(page, 'demo-06-sandbox-consent');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${demo.url}/settings/meta?connected=1**`);
    await page.getByTestId('meta-status').getByText('Connected').waitFor();
    // Disconnect released the assets: pick them again.
    await page.getByTestId('meta-business').first().click();
    const cards = page.getByTestId('meta-ad-account');
    await cards.first().waitFor();
    await page.getByTestId('meta-ad-account').filter({ hasText: 'Ventas USA' }).first().click();
    await page.getByTestId('meta-phone').first().waitFor();
    await page.getByTestId('meta-phone').first().check();
    await page.getByTestId('meta-page').first().check();
    await page.getByTestId('meta-save-assets').click();
    await page.getByTestId('meta-wizard-done').waitFor();
    await screenshot(page, 'demo-07-reconnected');
    const st = await api<{ status: string; ad_account: { id: string } | null }>(page, '/api/crm/marketing/token-status');
    expect(st.body.status).toBe('ok');
    expect(st.body.ad_account?.id).toMatch(/^act_/);
    await context.close();
  });
});
