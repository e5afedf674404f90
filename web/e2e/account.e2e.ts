import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SCREENSHOT_DIR, launchBrowser, screenshot, startServer, type RunningServer } from './harness';

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };
const SELLER = { name: 'Sergio Vendedor', email: 'sergio@acme.test', password: 'seller-password-123' };
const RESET_PASSWORD = 'Nueva-clave-segura-77';
const OWN_PASSWORD = 'Otra-clave-distinta-58';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

async function signIn(page: Page, url: string, who: { email: string; password: string }) {
  await page.goto(`${url}/login`);
  await page.getByLabel('Correo electrónico').fill(who.email);
  await page.getByLabel('Contraseña', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Entrar' }).click();
}

/** The whole page, not only the viewport (the phone layout is long). */
async function fullPage(page: Page, name: string) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Change the window size and let the sidebar finish sliding in or out. */
async function resize(page: Page, size: { width: number; height: number }) {
  await page.setViewportSize(size);
  await page.waitForTimeout(400);
}

/** Sign in through the API as another device; answers its session cookie. */
async function apiSession(url: string, who: { email: string; password: string }, userAgent: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': userAgent },
    body: JSON.stringify({ email: who.email, password: who.password }),
  });
  expect(res.status).toBe(200);
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

async function meStatus(url: string, cookie: string): Promise<number> {
  return (await fetch(`${url}/api/auth/me`, { headers: { Cookie: cookie } })).status;
}

describe('accounts: reset links from Team, the reset page, and the account page', () => {
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
    ceoContext = await browser.newContext({ viewport: DESKTOP, locale: 'es-ES', permissions: ['clipboard-read', 'clipboard-write'] });
  });

  afterAll(async () => {
    await ceoContext?.close();
    await sellerContext?.close();
    await browser?.close();
    await server?.stop();
  });

  it('the CEO resets a seller\'s password; the seller sets a new one, signs in, changes it and manages sessions', async () => {
    const ceo = await ceoContext.newPage();
    await signIn(ceo, server.url, CEO);
    await ceo.getByRole('heading', { name: 'Hola, Carla' }).waitFor();

    // The CEO adds the seller.
    await ceo.goto(`${server.url}/team`);
    await ceo.getByRole('button', { name: 'Añadir usuario' }).click();
    const add = ceo.getByRole('dialog', { name: 'Añadir usuario' });
    await add.getByLabel('Nombre').fill(SELLER.name);
    await add.getByLabel('Correo electrónico').fill(SELLER.email);
    await add.getByLabel('Contraseña inicial').fill(SELLER.password);
    await add.getByRole('button', { name: 'Crear usuario' }).click();

    // No reset action for yourself.
    await ceo.getByRole('button', { name: `Restablecer la contraseña de ${SELLER.name}` }).waitFor();
    expect(await ceo.getByRole('button', { name: `Restablecer la contraseña de ${CEO.name}` }).count()).toBe(0);
    await ceo.getByRole('button', { name: `Restablecer la contraseña de ${SELLER.name}` }).click();
    const confirm = ceo.getByRole('dialog', { name: 'Restablecer contraseña' });
    await confirm.getByText(`Crearemos un enlace de un solo uso para que ${SELLER.name} elija una contraseña nueva.`, { exact: false }).waitFor();
    await screenshot(ceo, 'account-es-01-reset-confirm-1440');
    await confirm.getByRole('button', { name: 'Crear enlace' }).click();

    // No SMTP in tests: the link is shown, to hand over in person.
    const shown = ceo.getByRole('dialog', { name: 'Enlace creado' });
    const link = await shown.getByTestId('reset-link').inputValue();
    expect(link).toMatch(new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/reset-password#token=crm_reset_`));
    await shown.getByText('Este servidor no envía correos.', { exact: false }).waitFor();
    await shown.getByText(/Vence el .+\. Sirve una sola vez\./).waitFor();
    await shown.getByRole('button', { name: 'Copiar', exact: true }).click();
    await shown.getByRole('button', { name: 'Copiado', exact: true }).waitFor();
    expect(await ceo.evaluate(() => navigator.clipboard.readText())).toBe(link);
    await screenshot(ceo, 'account-es-02-reset-link-1440');
    await resize(ceo, PHONE);
    await screenshot(ceo, 'account-es-03-reset-link-390');
    await shown.getByRole('button', { name: 'Listo' }).click();
    await fullPage(ceo, 'account-es-03b-team-390');
    await resize(ceo, DESKTOP);

    // The seller opens the link in a fresh browser (a phone).
    sellerContext = await browser.newContext({ viewport: PHONE, locale: 'es-ES' });
    const seller = await sellerContext.newPage();
    await seller.goto(link);
    await seller.getByRole('heading', { name: 'Elige una contraseña nueva' }).waitFor();
    // The token left the address bar.
    await seller.waitForURL((u) => u.hash === '' && u.pathname === '/reset-password');
    await seller.getByLabel('Contraseña nueva', { exact: true }).fill(RESET_PASSWORD);
    await seller.getByLabel('Repite la contraseña nueva').fill(RESET_PASSWORD);
    await screenshot(seller, 'account-es-04-reset-page-390');
    await seller.getByRole('button', { name: 'Guardar contraseña' }).click();
    await seller.waitForURL('**/login');
    await seller.getByText('Contraseña guardada. Inicia sesión con tu contraseña nueva.').waitFor();
    await screenshot(seller, 'account-es-05-login-after-reset-390');

    // The link works once; the old password no longer does.
    const again = await fetch(`${server.url}/api/auth/password-reset/complete`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: new URL(link).hash.replace('#token=', ''), new_password: 'Tercera-clave-rara-91' }),
    });
    expect(again.status).toBe(422);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('reset_token_invalid');

    await seller.getByLabel('Correo electrónico').fill(SELLER.email);
    await seller.getByLabel('Contraseña', { exact: true }).fill(RESET_PASSWORD);
    await seller.getByRole('button', { name: 'Entrar' }).click();
    await seller.getByRole('heading', { name: 'Hola, Sergio' }).waitFor();

    // Another device of the seller's (an iPhone, through the API).
    const iphone = await apiSession(server.url, { email: SELLER.email, password: RESET_PASSWORD }, IPHONE);
    expect(await meStatus(server.url, iphone)).toBe(200);

    // The account page, from the user menu.
    await resize(seller, DESKTOP);
    await seller.getByRole('button', { name: new RegExp(SELLER.name) }).click();
    await seller.getByRole('menuitem', { name: 'Mi cuenta' }).click();
    await seller.getByRole('heading', { name: 'Mi cuenta' }).waitFor();
    const sessions = seller.getByRole('list', { name: 'Sesiones abiertas' });
    await sessions.getByText('Safari en iPhone').waitFor();
    const rows = sessions.getByTestId('session');
    expect(await rows.count()).toBe(2);
    const current = rows.filter({ hasText: 'Esta sesión' });
    expect(await current.count()).toBe(1);
    expect(await current.textContent()).toContain('Chrome en Linux');
    expect(await current.textContent()).toContain('Activa ahora');
    // This device is listed first.
    expect(await rows.first().textContent()).toContain('Esta sesión');
    await seller.getByRole('button', { name: 'Cerrar sesión en todos los demás dispositivos' }).waitFor();
    await screenshot(seller, 'account-es-06-account-1440');
    await resize(seller, PHONE);
    await fullPage(seller, 'account-es-07-account-390');
    await resize(seller, DESKTOP);

    // The seller changes their own password: the other device is signed out.
    const form = seller.getByRole('form', { name: 'Cambiar contraseña' });
    await form.getByLabel('Contraseña actual').fill('not-the-password');
    await form.getByLabel('Contraseña nueva', { exact: true }).fill(OWN_PASSWORD);
    await form.getByLabel('Repite la contraseña nueva').fill(OWN_PASSWORD);
    await form.getByRole('button', { name: 'Cambiar contraseña' }).click();
    await form.getByText('La contraseña actual no es correcta.').waitFor();
    await form.getByLabel('Contraseña actual').fill(RESET_PASSWORD);
    await form.getByRole('button', { name: 'Cambiar contraseña' }).click();
    await seller.getByText('Contraseña cambiada. Cerramos tu sesión en los demás dispositivos.').waitFor();
    await seller.getByText('Solo tienes abierta esta sesión.').waitFor();
    expect(await rows.count()).toBe(1);
    expect(await meStatus(server.url, iphone)).toBe(401);

    // Two more devices; one signed out by its own button, then "all others".
    const ipad = await apiSession(server.url, { email: SELLER.email, password: OWN_PASSWORD }, IPHONE.replace(/iPhone/g, 'iPad'));
    const phone2 = await apiSession(server.url, { email: SELLER.email, password: OWN_PASSWORD }, IPHONE);
    await seller.reload();
    await sessions.getByText('Safari en iPad').waitFor();
    expect(await rows.count()).toBe(3);
    await seller.getByRole('button', { name: /^Cerrar la sesión de Safari en iPad/ }).click();
    await seller.getByText('Cerramos la sesión de Safari en iPad.').waitFor();
    expect(await meStatus(server.url, ipad)).toBe(401);
    expect(await meStatus(server.url, phone2)).toBe(200);

    await seller.getByRole('button', { name: 'Cerrar sesión en todos los demás dispositivos' }).click();
    const all = seller.getByRole('dialog', { name: 'Cerrar sesión en todos los demás dispositivos' });
    await all.getByText('Se cerrará 1 sesión en otro dispositivo. Esta sesión sigue abierta.').waitFor();
    await all.getByRole('button', { name: 'Cerrar sesión', exact: true }).click();
    await seller.getByText('Cerramos 1 sesión en otro dispositivo.').waitFor();
    expect(await meStatus(server.url, phone2)).toBe(401);

    // This browser is still signed in, and the new password is the one that works.
    await seller.reload();
    await seller.getByRole('heading', { name: 'Mi cuenta' }).waitFor();
    await seller.getByRole('button', { name: new RegExp(SELLER.name) }).click();
    await seller.getByRole('menuitem', { name: 'Cerrar sesión' }).click();
    await seller.waitForURL('**/login');
    await signIn(seller, server.url, { email: SELLER.email, password: OWN_PASSWORD });
    await seller.getByRole('heading', { name: 'Hola, Sergio' }).waitFor();

    // The forgotten-password form on a server without e-mail.
    await seller.getByRole('button', { name: new RegExp(SELLER.name) }).click();
    await seller.getByRole('menuitem', { name: 'Cerrar sesión' }).click();
    await seller.waitForURL('**/login');
    await seller.getByLabel('Correo electrónico').fill(SELLER.email);
    await seller.getByRole('link', { name: '¿Olvidaste tu contraseña?' }).click();
    await seller.getByRole('heading', { name: 'Recupera tu contraseña' }).waitFor();
    await seller.getByRole('button', { name: 'Enviar enlace' }).click();
    await seller.getByText('Este servidor no envía correos. Pídele a un administrador que restablezca tu contraseña.').waitFor();
    await resize(seller, PHONE);
    await screenshot(seller, 'account-es-08-forgot-no-email-390');
  });
});
