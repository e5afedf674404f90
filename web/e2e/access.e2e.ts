import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, startServer, type RunningServer } from './harness';

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };
const SELLER = { name: 'Sergio Vendedor', email: 'sergio@acme.test', password: 'seller-password-123' };

async function signIn(page: Page, url: string, who: { email: string; password: string }) {
  await page.goto(`${url}/login`);
  await page.getByLabel('Correo electrónico').fill(who.email);
  await page.getByLabel('Contraseña').fill(who.password);
  await page.getByRole('button', { name: 'Entrar' }).click();
}

describe('access changes reach an open browser', () => {
  let server: RunningServer;
  let browser: Browser;
  let ceoContext: BrowserContext;
  let sellerContext: BrowserContext;

  beforeAll(async () => {
    server = await startServer();
    const res = await fetch(`${server.url}/api/setup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_name: 'Acme', currency: 'USD', timezone: 'UTC', locale: 'es', country: 'MX', ...CEO }),
    });
    expect(res.status).toBe(201);
    browser = await launchBrowser();
    ceoContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    sellerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await ceoContext?.close();
    await sellerContext?.close();
    await browser?.close();
    await server?.stop();
  });

  it('a disabled seller is sent back to login and cannot sign in again; enabling restores access', async () => {
    const ceo = await ceoContext.newPage();
    await signIn(ceo, server.url, CEO);
    await ceo.getByRole('heading', { name: 'Hola, Carla' }).waitFor();

    // The CEO adds the seller.
    await ceo.goto(`${server.url}/team`);
    await ceo.getByRole('button', { name: 'Añadir usuario' }).click();
    const dialog = ceo.getByRole('dialog', { name: 'Añadir usuario' });
    await dialog.getByLabel('Nombre').fill(SELLER.name);
    await dialog.getByLabel('Correo electrónico').fill(SELLER.email);
    await dialog.getByLabel('Contraseña inicial').fill(SELLER.password);
    await dialog.getByRole('button', { name: 'Crear usuario' }).click();
    await ceo.getByRole('button', { name: `Desactivar a ${SELLER.name}` }).waitFor();

    // The seller is working in another browser.
    const seller = await sellerContext.newPage();
    await signIn(seller, server.url, SELLER);
    await seller.getByRole('heading', { name: 'Hola, Sergio' }).waitFor();

    // The CEO disables the seller.
    await ceo.getByRole('button', { name: `Desactivar a ${SELLER.name}` }).click();
    await ceo.getByRole('button', { name: `Activar a ${SELLER.name}` }).waitFor();
    await screenshot(ceo, 'access-01-seller-disabled');
    await ceo.getByRole('row').filter({ hasText: SELLER.email }).getByText('Desactivado', { exact: true }).waitFor();

    // On the seller's next request the session is gone: back to login.
    await seller.reload();
    await seller.waitForURL('**/login');
    await seller.getByLabel('Correo electrónico').fill(SELLER.email);
    await seller.getByLabel('Contraseña').fill(SELLER.password);
    await seller.getByRole('button', { name: 'Entrar' }).click();
    await expect(seller.getByRole('alert').first().textContent()).resolves.toContain('Correo o contraseña incorrectos, o el usuario está desactivado.');
    await screenshot(seller, 'access-02-disabled-login');

    // Enabled again, the seller gets in.
    await ceo.getByRole('button', { name: `Activar a ${SELLER.name}` }).click();
    await ceo.getByRole('button', { name: `Desactivar a ${SELLER.name}` }).waitFor();
    await seller.getByRole('button', { name: 'Entrar' }).click();
    await seller.getByRole('heading', { name: 'Hola, Sergio' }).waitFor();

    // Promoted to admin, the seller's sidebar grows after a reload.
    const row = ceo.getByRole('row').filter({ hasText: SELLER.email });
    await row.getByRole('combobox').selectOption('admin');
    await ceo.getByText(`${SELLER.name} ahora es Administrador.`).waitFor();
    await seller.reload();
    const nav = seller.getByRole('complementary', { name: 'Navegación principal' });
    await nav.getByRole('link', { name: 'Equipo' }).waitFor();
    await screenshot(seller, 'access-03-promoted');
  });
});
