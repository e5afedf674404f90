import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Locator } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCREENSHOT_DIR, launchBrowser, screenshot, startServer, type RunningServer } from './harness';

// Issue 7's end-to-end acceptance: create a template in the UI, approve it in
// the sandbox, create a lead_created rule in the UI, a Click-to-WhatsApp
// message arrives, the log shows queued → sent → delivered → read, and the
// lead page shows the messages and the ad context.

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };
const SANDBOX = /Meta sandbox at (http:\/\/127\.0\.0\.1:\d+)/;
const TEMPLATE = 'welcome_ctwa';
const CUSTOMER = { from: '5491155501234', name: 'Lucía Gómez', text: 'Hola, vi el anuncio y quiero más información' };

async function sandboxPost(sandbox: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${sandbox}/_sandbox${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`sandbox ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function apiGet<T>(page: Page, path: string): Promise<T> {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { credentials: 'same-origin' });
    return r.json();
  }, path) as Promise<T>;
}

/**
 * A screenshot of the content area from the top of `top` to the bottom of
 * `bottom` (page coordinates, beyond the viewport if need be), without the
 * sidebar, for the user guide.
 */
async function regionShot(page: Page, name: string, top: Locator, bottom: Locator = top) {
  const box = async (l: Locator) => l.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top + window.scrollY, bottom: r.bottom + window.scrollY };
  });
  const content = await page.locator('main.content').evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { left: r.left, width: r.width };
  });
  const a = await box(top);
  const b = await box(bottom);
  // From the top, so the sticky top bar stays at the top of the page image.
  await page.evaluate(() => window.scrollTo(0, 0));
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({
    path: join(SCREENSHOT_DIR, `${name}.png`),
    fullPage: true,
    clip: { x: content.left, y: Math.max(0, a.top - 16), width: content.width, height: b.bottom - a.top + 32 },
  });
}

async function connectMeta(page: Page, server: RunningServer, sandbox: string) {
  await page.goto(`${server.url}/settings/meta`);
  await page.getByTestId('meta-connect').click();
  await page.waitForURL(`${sandbox}/**`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${server.url}/settings/meta?connected=1**`);
  await page.getByTestId('meta-business').first().click();
  await page.getByTestId('meta-ad-account').first().click();
  await page.getByTestId('meta-phone').first().check();
  await page.getByTestId('meta-page').first().check();
  await page.getByTestId('meta-save-assets').click();
  await page.getByTestId('meta-wizard-done').waitFor();
}

describe('HSM Automation in the browser, through the Meta sandbox', () => {
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
    // The sandbox line may be printed just after the "listening on" line the harness waits for.
    let found = SANDBOX.exec(server.output());
    for (let i = 0; !found && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = SANDBOX.exec(server.output());
    }
    if (!found?.[1]) throw new Error(`no sandbox URL in the server output:\n${server.output()}`);
    sandbox = found[1];
    const res = await fetch(`${server.url}/api/setup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_name: 'Acme', currency: 'USD', timezone: 'America/Argentina/Buenos_Aires', locale: 'en', country: 'AR', ...CEO }),
    });
    expect(res.status).toBe(201);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale: 'en-US', timezoneId: 'America/Argentina/Buenos_Aires' });
    page = await context.newPage();
  });

  afterAll(async () => {
    if (process.env.HSM_E2E_SERVER_LOG) console.log(server?.output().split('\n').slice(-200).join('\n'));
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('template → approval → lead_created rule → CTWA inbound → queued/sent/delivered/read → lead page', async () => {
    await page.goto(`${server.url}/crm/hsm`);
    await page.waitForURL('**/login?next=*');
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByLabel('Email').fill(CEO.email);
    await page.getByLabel('Password').fill(CEO.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'HSM Automation' }).waitFor();
    await connectMeta(page, server, sandbox);

    // 1) Create a template in the UI, with the live preview.
    await page.goto(`${server.url}/crm/hsm`);
    await page.getByRole('link', { name: 'HSM Automation' }).waitFor();
    await page.getByTestId('templates-new').click();
    const form = page.getByTestId('template-form');
    await form.getByLabel('Name').fill('Welcome CTWA');
    // The client-side check mirrors the server's name rule.
    await form.getByLabel('Language').click();
    await form.locator('[data-field="name"]').waitFor();
    expect(await form.locator('[data-field="name"]').innerText()).toContain('lowercase');
    await form.getByLabel('Name').fill(TEMPLATE);
    await form.getByLabel('Language').fill('es');
    await form.getByLabel('Header (optional)').fill('Acme');
    await form.getByLabel('Body').fill('Hi {{1}}! Thanks for writing to *Acme*. A seller will answer you in minutes.');
    // A variable without an example is refused before Meta sees it.
    await form.getByTestId('template-submit').click();
    await form.locator('[data-field="body"]').getByText('Every variable needs an example.').waitFor();
    await form.getByLabel('Example for {{1}}').fill('Ana');
    await form.getByLabel('Footer (optional)').fill('Reply STOP to opt out');
    await form.getByRole('button', { name: 'Add button' }).click();
    await form.getByLabel('Text', { exact: true }).fill('Talk to a seller');
    const preview = form.getByTestId('wa-preview');
    await preview.getByText('Hi Ana!', { exact: false }).waitFor();
    expect(await preview.innerText()).toContain('Talk to a seller');
    await regionShot(page, 'hsm-01-template-form', page.locator('.hsm-form-card'));
    await form.getByTestId('template-submit').click();
    const row = page.locator(`[data-testid="template-row"][data-name="${TEMPLATE}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('PENDING');
    await screenshot(page, 'hsm-02-template-pending');

    // 2) Approve it in the sandbox; the status webhook updates the CRM.
    await sandboxPost(sandbox, `/templates/${TEMPLATE}/review`, { status: 'APPROVED' });
    await expect
      .poll(
        async () => {
          await page.reload();
          await row.waitFor();
          return row.getAttribute('data-status');
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe('APPROVED');
    await row.getByText('Approved').waitFor();
    await screenshot(page, 'hsm-03-template-approved');

    // 3) A lead_created rule, made in the UI, with its variable preview.
    await page.getByRole('tab', { name: 'Rules' }).click();
    await page.getByTestId('hsm-rules').waitFor();
    await page.getByTestId('rules-new').click();
    const editor = page.getByTestId('rule-editor');
    await editor.getByLabel('Rule name').fill('Welcome Click-to-WhatsApp leads');
    expect(await editor.getByTestId('rule-trigger').inputValue()).toBe('lead_created');
    // Only leads that arrive by Click-to-WhatsApp (not the Lead Ads leads the Meta sync brings in).
    await editor.getByTestId('rule-channel').selectOption('click_to_whatsapp');
    await editor.getByTestId('rule-template').selectOption(`${TEMPLATE}|es`);
    await editor.getByLabel('Variable 1').selectOption('lead.first_name');
    await editor.getByLabel('Fallback 1').fill('there');
    await editor.getByTestId('wa-preview').getByText('Hi Ana!', { exact: false }).waitFor();
    await editor.getByLabel('Frequency cap').check();
    expect(await editor.getByLabel('Max messages').inputValue()).toBe('1');
    expect(await editor.getByTestId('rule-enabled').isChecked()).toBe(true);
    await regionShot(page, 'hsm-04-rule-editor', page.locator('.hsm-form-card'));
    await editor.getByTestId('rule-save').click();
    const ruleRow = page.locator('[data-testid="rule-row"][data-name="Welcome Click-to-WhatsApp leads"]');
    await ruleRow.waitFor();
    expect(await ruleRow.getByRole('switch').isChecked()).toBe(true);
    expect(await ruleRow.innerText()).toContain('max 1 per 24 h');
    expect(await ruleRow.innerText()).toContain('Lead created (click_to_whatsapp)');

    // 4) A Click-to-WhatsApp message arrives (referral built from a real ad of the sandbox world).
    const status = await apiGet<{ whatsapp: { phone_numbers: { id: string }[] } | null }>(page, '/api/crm/marketing/token-status');
    const phoneId = status.whatsapp?.phone_numbers[0]?.id;
    expect(phoneId).toBeTruthy();
    const world = (await (await fetch(`${sandbox}/_sandbox/world`)).json()) as { ad_accounts: { sample_ad_ids: string[] }[] };
    const adId = world.ad_accounts.flatMap((a) => a.sample_ad_ids)[0];
    expect(adId).toBeTruthy();
    const inbound = await sandboxPost(sandbox, '/inbound', { ...CUSTOMER, phone_number_id: phoneId, referral: { ad_id: adId } });
    const referral = inbound.referral as { headline?: string; source_id?: string };
    expect(referral.source_id).toBe(adId);

    // 5) The log walks queued → sent → delivered → read (the sandbox reports the statuses).
    await page.getByRole('tab', { name: 'Log' }).click();
    const logRow = page.locator('[data-testid="log-row"]').filter({ hasText: CUSTOMER.name });
    await logRow.waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="log-row"][data-status="read"]').filter({ hasText: CUSTOMER.name }).waitFor({ timeout: 60_000 });
    const steps = logRow.getByTestId('run-timeline').locator('li');
    expect(await steps.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-status')}:${e.getAttribute('data-done')}`))).toEqual(['queued:true', 'sent:true', 'delivered:true', 'read:true']);
    expect(await logRow.innerText()).toContain(TEMPLATE);
    await screenshot(page, 'hsm-05-log-read');

    // The filters reach the API: today's runs keep the row, failed runs are none.
    const today = await page.evaluate(() => new Date().toLocaleDateString('en-CA'));
    await page.getByLabel('From').fill(today);
    await page.locator('[data-testid="log-row"][data-status="read"]').filter({ hasText: CUSTOMER.name }).waitFor();
    await page.getByRole('combobox', { name: 'Status' }).selectOption('failed');
    await page.getByText('No sends yet.').waitFor();
    await page.getByRole('combobox', { name: 'Status' }).selectOption('');
    await logRow.waitFor();

    // Exactly once, per what the sandbox received.
    const received = async () => {
      const r = (await (await fetch(`${sandbox}/_sandbox/received/messages`)).json()) as { data: { to?: string; body?: { to?: string; template?: { name?: string } } }[] };
      return r.data.filter((m) => JSON.stringify(m).includes(CUSTOMER.from) && JSON.stringify(m).includes(TEMPLATE)).length;
    };
    expect(await received()).toBe(1);

    // CSV export of the filtered log.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('logs-export').click()]);
    const csvPath = await download.path();
    const csv = readFileSync(csvPath, 'utf8');
    expect(csv).toContain('created_at,run_at,rule,lead,lead_id,template,language,status');
    expect(csv).toContain(`${CUSTOMER.name},`);
    expect(csv).toContain('queued@');
    expect(csv).toMatch(/,read,/);

    // The rules list counts the send.
    await page.getByRole('tab', { name: 'Rules' }).click();
    await ruleRow.getByText('1 sent').waitFor();
    await screenshot(page, 'hsm-06-rules');

    // Dry run: the lead already got this occurrence; the rendered text is shown per lead.
    await ruleRow.getByRole('button', { name: 'Dry run' }).click();
    await page.getByTestId('dry-run').waitFor();
    await screenshot(page, 'hsm-07-dry-run');
    await page.getByRole('button', { name: 'Close', exact: true }).last().click();

    // 6) The lead page: the inbound message with its ad, our template read, window open, and the ad context.
    await page.getByRole('tab', { name: 'Log' }).click();
    await page.getByRole('link', { name: CUSTOMER.name }).click();
    await page.getByRole('heading', { name: CUSTOMER.name }).waitFor();
    const panel = page.getByTestId('lead-messaging');
    const incoming = panel.locator('[data-testid="lead-message"][data-direction="in"]');
    await incoming.waitFor();
    expect(await incoming.innerText()).toContain(CUSTOMER.text);
    await incoming.getByTestId('message-referral').waitFor();
    if (referral.headline) expect(await incoming.innerText()).toContain(referral.headline);
    const outgoing = panel.locator('[data-testid="lead-message"][data-direction="out"][data-status="read"]');
    await outgoing.waitFor();
    expect(await outgoing.innerText()).toContain('Hi Lucía!');
    expect(await panel.getByTestId('lead-window').getAttribute('data-open')).toBe('true');
    const adCard = page.locator('.ad-card');
    expect(await adCard.innerText()).toContain(adId!);
    await regionShot(page, 'hsm-08-lead-page', adCard, panel);

    // A manual send from the lead page: template picker, variables, preview.
    await page.getByTestId('lead-send-template').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByTestId('lead-send-template-pick').selectOption({ label: `${TEMPLATE} · es · Utility` });
    await dialog.getByLabel('Variable {{1}}').fill('Lucía');
    await dialog.getByTestId('wa-preview').getByText('Hi Lucía!', { exact: false }).waitFor();
    await screenshot(page, 'hsm-09-send-template');
    await dialog.getByTestId('lead-send-submit').click();
    await page.getByText('Template sent.').waitFor();
    await expect.poll(() => panel.locator('[data-testid="lead-message"][data-direction="out"]').count(), { timeout: 20_000 }).toBe(2);
    await expect.poll(received, { timeout: 20_000 }).toBe(2);

    // Meta does not answer the next send (503): the message is held as
    // unconfirmed, never resent on its own; the seller resends it once.
    await sandboxPost(sandbox, '/faults', { path: '/messages', kind: 'error', code: 2, http_status: 503, message: 'Service temporarily unavailable' });
    await page.getByTestId('lead-send-template').click();
    const again = page.getByRole('dialog');
    await again.getByTestId('lead-send-template-pick').selectOption({ label: `${TEMPLATE} · es · Utility` });
    await again.getByLabel('Variable {{1}}').fill('Lucía');
    await again.getByTestId('lead-send-submit').click();
    await page.getByText('Meta did not confirm the message').first().waitFor();
    const held = panel.locator('[data-testid="lead-message"][data-status="held"]');
    await held.waitFor({ timeout: 20_000 });
    expect(await held.getByTestId('message-held').innerText()).toContain('it may or may not have been delivered');
    await held.scrollIntoViewIfNeeded();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await held.screenshot({ path: join(SCREENSHOT_DIR, 'hsm-10-unconfirmed.png') });
    expect(await received()).toBe(2);
    await held.getByTestId('message-resend').click();
    await page.getByText('Message resent').waitFor();
    await expect.poll(received, { timeout: 20_000 }).toBe(3);
    await expect.poll(() => panel.locator('[data-testid="lead-message"][data-status="held"]').count(), { timeout: 20_000 }).toBe(0);

    // The same pages in Spanish, for the Spanish guide.
    await page.evaluate(() => localStorage.setItem('crm.lang', 'es'));
    await page.reload();
    await page.getByTestId('lead-messaging').locator('[data-direction="out"]').first().waitFor();
    await regionShot(page, 'hsm-es-08-lead-page', page.locator('.ad-card'), page.getByTestId('lead-messaging'));
    await page.goto(`${server.url}/crm/hsm?tab=logs`);
    await page.locator('[data-testid="log-row"][data-status="read"]').first().waitFor();
    await screenshot(page, 'hsm-es-05-log-read');
    await page.goto(`${server.url}/crm/hsm`);
    await page.getByTestId('templates-new').click();
    await page.getByTestId('template-form').getByLabel('Cuerpo').fill('Hola {{1}}, tu pedido {{3}} está listo');
    await page.getByTestId('template-submit').click();
    await page.locator('[data-field="body"]').waitFor();
    await regionShot(page, 'hsm-es-01-template-errors', page.locator('.hsm-form-card'));
  });
});
