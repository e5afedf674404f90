import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, startServer, type RunningServer } from './harness';

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };

describe('API tokens through the UI', () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startServer();
    // First run through the API; this test is about the tokens page.
    const res = await fetch(`${server.url}/api/setup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_name: 'Acme', currency: 'USD', timezone: 'UTC', locale: 'en', country: 'US', ...CEO }),
    });
    expect(res.status).toBe(201);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('creates a token whose secret works once shown, and revoking it stops it', async () => {
    await page.goto(`${server.url}/settings/tokens`);
    await page.waitForURL('**/login?next=*');
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByLabel('Email').fill(CEO.email);
    await page.getByLabel('Password').fill(CEO.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Back on the page asked for, empty at first.
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await page.getByText('No tokens').waitFor();
    await screenshot(page, 'tokens-01-empty');

    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API token' });
    await dialog.getByLabel('Name').fill('Zapier');
    await dialog.getByLabel('Role').selectOption('marketing');
    await dialog.getByRole('button', { name: 'Create token' }).click();

    const shown = page.getByRole('dialog', { name: 'Token created' });
    const secret = await shown.getByTestId('token-secret').inputValue();
    expect(secret.length).toBeGreaterThan(20);
    await shown.getByRole('button', { name: 'Copy', exact: true }).click();
    await shown.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await screenshot(page, 'tokens-02-secret');

    // The secret authenticates as the token, with the role chosen.
    const me = await fetch(`${server.url}/api/auth/me`, { headers: { Authorization: `Bearer ${secret}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { role: string }).role).toBe('marketing');

    await shown.getByRole('button', { name: 'I have copied it' }).click();
    const row = page.getByRole('row').filter({ hasText: 'Zapier' });
    await row.getByText('Active').waitFor();
    expect(await page.getByText(secret).count()).toBe(0);

    await row.getByRole('button', { name: 'Revoke Zapier' }).click();
    await page.getByRole('dialog', { name: 'Revoke token' }).getByRole('button', { name: 'Revoke', exact: true }).click();
    await row.getByText('Revoked').waitFor();
    await screenshot(page, 'tokens-03-revoked');

    const after = await fetch(`${server.url}/api/auth/me`, { headers: { Authorization: `Bearer ${secret}` } });
    expect(after.status).toBe(401);
  });
});
