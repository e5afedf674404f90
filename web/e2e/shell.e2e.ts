import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, startServer, type RunningServer } from './harness';

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };
const SELLER = { name: 'Sergio Vendedor', email: 'sergio@acme.test', password: 'seller-password-123' };

function sidebar(page: Page) {
  return page.getByRole('complementary', { name: 'Navegación principal' });
}

async function sidebarLinks(page: Page): Promise<string[]> {
  const nav = sidebar(page);
  await nav.waitFor();
  return (await nav.getByRole('link').allTextContents()).map((s) => s.trim());
}

describe('web shell against the real server', () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'es-ES', timezoneId: 'America/Mexico_City' });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('first run: setup, add a seller, and the seller sees a narrower sidebar', async () => {
    // A fresh instance sends every visitor to the first-run page.
    await page.goto(server.url);
    await page.waitForURL('**/setup');
    await page.getByRole('heading', { name: 'Configura tu CRM' }).waitFor();
    await screenshot(page, '01-setup');

    await page.getByLabel('Nombre de la empresa').fill('Acme');
    await page.getByLabel('Moneda de reporte').selectOption('MXN');
    await page.getByLabel('Zona horaria').selectOption('America/Mexico_City');
    await page.getByLabel('Tu nombre').fill(CEO.name);
    await page.getByLabel('Correo electrónico').fill(CEO.email);
    await page.getByLabel('Contraseña', { exact: true }).fill(CEO.password);
    await page.getByLabel('Repite la contraseña').fill(CEO.password);
    await page.getByRole('button', { name: 'Crear empresa y entrar' }).click();

    // Lands in the app as CEO with the full sidebar.
    await page.getByRole('heading', { name: 'Hola, Carla' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    const ceoLinks = await sidebarLinks(page);
    expect(ceoLinks).toEqual(expect.arrayContaining(['Inicio', 'Equipo', 'Auditoría', 'Tokens de API']));
    await page.locator('.topbar').getByText('Acme').waitFor();
    await screenshot(page, '02-home-ceo');

    // Add a seller on the Team page.
    await sidebar(page).getByRole('link', { name: 'Equipo' }).click();
    await page.getByRole('heading', { name: 'Equipo' }).waitFor();
    await page.getByRole('button', { name: 'Añadir usuario' }).click();
    const dialog = page.getByRole('dialog', { name: 'Añadir usuario' });
    await dialog.getByLabel('Nombre').fill(SELLER.name);
    await dialog.getByLabel('Correo electrónico').fill(SELLER.email);
    await dialog.getByLabel('Rol').selectOption('seller');
    await dialog.getByLabel('Contraseña inicial').fill(SELLER.password);
    await screenshot(page, '03-team-add-dialog');
    await dialog.getByRole('button', { name: 'Crear usuario' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: SELLER.email });
    await row.waitFor();
    await expect(row.getByRole('combobox').inputValue()).resolves.toBe('seller');
    await screenshot(page, '04-team-with-seller');

    // The audit log recorded what just happened.
    await sidebar(page).getByRole('link', { name: 'Auditoría' }).click();
    await page.getByRole('heading', { name: 'Auditoría' }).waitFor();
    await page.locator('table tbody tr').first().waitFor();
    expect(await page.locator('table tbody tr').count()).toBeGreaterThan(0);
    await screenshot(page, '05-audit');

    // Log out through the user menu.
    await page.getByRole('button', { name: new RegExp(CEO.name) }).click();
    await page.getByRole('menuitem', { name: 'Cerrar sesión' }).click();
    await page.waitForURL('**/login');
    await page.getByRole('heading', { name: 'Inicia sesión' }).waitFor();
    await screenshot(page, '06-login');

    // A wrong password is refused with a readable error.
    await page.getByLabel('Correo electrónico').fill(SELLER.email);
    await page.getByLabel('Contraseña').fill('not-the-password');
    await page.getByRole('button', { name: 'Entrar' }).click();
    await expect(page.getByRole('alert').first().textContent()).resolves.toContain('Correo o contraseña incorrectos, o el usuario está desactivado.');

    // The seller signs in and sees no Team, Audit or Tokens.
    await page.getByLabel('Contraseña').fill(SELLER.password);
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByRole('heading', { name: 'Hola, Sergio' }).waitFor();
    const sellerLinks = await sidebarLinks(page);
    expect(sellerLinks).toContain('Inicio');
    expect(sellerLinks).not.toContain('Equipo');
    expect(sellerLinks).not.toContain('Auditoría');
    expect(sellerLinks).not.toContain('Tokens de API');
    await screenshot(page, '07-home-seller');

    // Opening the team page by URL is refused, and the server agrees.
    await page.goto(`${server.url}/team`);
    await page.getByText('Acceso restringido').waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/team', { credentials: 'same-origin' })).status);
    expect(status).toBe(403);
    await screenshot(page, '08-seller-team-refused');

    // The language switch works and persists across a reload.
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByText('Restricted').waitFor();
    await page.reload();
    await page.getByRole('complementary', { name: 'Main navigation' }).getByRole('link', { name: 'Home' }).waitFor();
    await screenshot(page, '09-english');
  });
});
