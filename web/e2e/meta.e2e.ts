import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, startServer, type RunningServer } from './harness';

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };
const SANDBOX = /Meta sandbox at (http:\/\/127\.0\.0\.1:\d+)/;

async function tokenStatus(page: Page): Promise<{ status: string; connected: boolean; ad_account: { id: string } | null }> {
  return page.evaluate(async () => {
    const r = await fetch('/api/crm/marketing/token-status', { credentials: 'same-origin' });
    return r.json();
  });
}

describe('Meta connection through the sandbox', () => {
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
      body: JSON.stringify({ tenant_name: 'Acme', currency: 'USD', timezone: 'UTC', locale: 'en', country: 'US', ...CEO }),
    });
    expect(res.status).toBe(201);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('connects through the consent page, picks assets, goes red on expiry and green on reconnect', async () => {
    await page.goto(`${server.url}/settings/meta`);
    await page.waitForURL('**/login?next=*');
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByLabel('Email').fill(CEO.email);
    await page.getByLabel('Password').fill(CEO.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Not connected yet: the wizard starts at step 1.
    await page.getByRole('heading', { name: 'Meta', exact: true }).waitFor();
    await page.getByTestId('meta-status').getByText('Not connected').waitFor();
    await screenshot(page, 'meta-01-not-connected');

    // 1. The real OAuth redirect to the sandbox's consent page.
    await page.getByTestId('meta-connect').click();
    await page.waitForURL(`${sandbox}/**`);
    await page.getByText('META SANDBOX').first().waitFor();
    await screenshot(page, 'meta-02-consent');
    await page.getByRole('button', { name: 'Continue' }).click();

    // 2. Back in the CRM: pick the business portfolio.
    await page.waitForURL(`${server.url}/settings/meta?connected=1**`);
    await page.getByTestId('meta-business').first().waitFor();
    await screenshot(page, 'meta-03-business');
    await page.getByTestId('meta-business').first().click();

    // 3. The ad account: cards with name, currency and status, and a search box.
    const cards = page.getByTestId('meta-ad-account');
    await cards.first().waitFor();
    const total = await cards.count();
    expect(total).toBeGreaterThan(0);
    const firstName = (await cards.first().locator('.meta-option-title').innerText()).trim();
    await page.getByLabel('Search by name or id').fill(firstName);
    expect(await cards.count()).toBeGreaterThanOrEqual(1);
    await screenshot(page, 'meta-04-accounts');
    await cards.first().click();

    // 4. A WhatsApp number and a Lead Ads page.
    await page.getByTestId('meta-phone').first().waitFor();
    await page.getByTestId('meta-phone').first().check();
    await page.getByTestId('meta-page').first().check();
    await screenshot(page, 'meta-05-assets');
    await page.getByTestId('meta-save-assets').click();

    // 5. Success.
    await page.getByTestId('meta-wizard-done').waitFor();
    await screenshot(page, 'meta-06-done');
    const ok = await tokenStatus(page);
    expect(ok.status).toBe('ok');
    expect(ok.connected).toBe(true);
    expect(ok.ad_account?.id).toMatch(/^act_\d+$/);
    await page.getByTestId('meta-status').getByText('Connected').waitFor();
    expect(await page.getByTestId('meta-banner').count()).toBe(0);

    // The sandbox expires every token; a live test finds out and the banner turns red.
    const expired = await fetch(`${sandbox}/_sandbox/tokens/expire`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ all: true }),
    });
    expect(expired.status).toBe(200);
    await page.getByRole('button', { name: 'OK' }).click();
    await page.getByTestId('meta-test').click();
    await page.getByTestId('meta-test-result').waitFor();
    const banner = page.getByTestId('meta-banner');
    await banner.waitFor();
    expect(await banner.getAttribute('data-status')).toBe('expired');
    expect(await banner.innerText()).toContain('The Meta connection expired');
    expect((await tokenStatus(page)).status).toBe('expired');
    await screenshot(page, 'meta-07-expired-banner');

    // The banner follows the user to other pages.
    await page.goto(`${server.url}/`);
    await page.getByTestId('meta-banner').waitFor();
    await screenshot(page, 'meta-08-banner-home');

    // Reconnect straight from the banner, through the consent page again.
    await page.getByTestId('meta-banner').getByRole('link', { name: 'Reconnect' }).click();
    await page.waitForURL('**/settings/meta?reconnect=1');
    await page.getByTestId('meta-connect').click();
    await page.waitForURL(`${sandbox}/**`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${server.url}/settings/meta?connected=1**`);
    await page.getByTestId('meta-status').getByText('Connected').waitFor();
    // The selection survived the reconnect: straight to the success step.
    await page.getByTestId('meta-wizard-done').waitFor();
    expect(await page.getByTestId('meta-banner').count()).toBe(0);
    const green = await tokenStatus(page);
    expect(green.status).toBe('ok');
    expect(green.ad_account?.id).toBe(ok.ad_account?.id);
    await screenshot(page, 'meta-09-reconnected');
  });
});
