import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, startServer, type RunningServer } from './harness';

const CEO = { name: 'Carla Directora', email: 'carla@acme.test', password: 'ceo-password-123' };

// Six data rows: three good, one bad email (line 4), one without any name or
// contact (line 5), and one repeating Ana's phone (line 7, a duplicate).
const CSV = [
  'Nombre,Teléfono,Correo,Etiquetas,utm_campaign',
  'Ana López,+52 55 1234 5678,ana@example.com,vip,black_friday',
  'Luis Pérez,55 1234 9999,luis@example.com,,',
  'Correo Malo,+52 55 1111 2222,esto-no-es-un-correo,,',
  ',,,solo-etiqueta,',
  'Marta Ruiz,+52 55 8765 4321,marta@example.com,,',
  'Ana Repetida,+52 55 1234 5678,,,',
  '',
].join('\n');

describe('CRM core in the browser: import, lead, opportunity, board, sale, timeline', () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startServer();
    const res = await fetch(`${server.url}/api/setup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tenant_name: 'Acme', currency: 'MXN', timezone: 'America/Mexico_City', locale: 'es', country: 'MX', ...CEO }),
    });
    expect(res.status).toBe(201);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'es-MX' });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  it('imports a CSV with bad rows, opens a lead, creates an opportunity, wins it on the board, records a sale and sees it on the timeline', async () => {
    await page.goto(`${server.url}/crm/leads`);
    await page.waitForURL('**/login?next=*');
    await page.getByLabel('Correo electrónico').fill(CEO.email);
    await page.getByLabel('Contraseña').fill(CEO.password);
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByRole('heading', { name: 'Leads', exact: true }).waitFor();
    await page.getByText('Aún no hay leads').waitFor();
    await screenshot(page, 'leads-00-empty');

    // 1) Import with a mapping step and a validation report.
    await page.getByRole('link', { name: 'Importar CSV' }).click();
    await page.getByRole('heading', { name: 'Importar leads' }).waitFor();
    await page.getByLabel('Elegir archivo CSV').setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV, 'utf8') });
    await page.getByText('leads.csv: 5 columnas').waitFor();
    expect(await page.getByLabel('Campo para Teléfono').inputValue()).toBe('phone');
    expect(await page.getByLabel('Campo para Correo').inputValue()).toBe('email');
    expect(await page.getByLabel('Campo para Nombre').inputValue()).toBe('name');
    await screenshot(page, 'leads-01-mapping');
    await page.getByRole('button', { name: 'Importar', exact: true }).click();
    await page.getByText('Importación terminada').waitFor();
    const stat = (label: string) => page.locator('.import-stat').filter({ hasText: label }).locator('.import-stat-value').innerText();
    expect(await stat('Filas leídas')).toBe('6');
    expect(await stat('Creados')).toBe('3');
    expect(await stat('Duplicados omitidos')).toBe('1');
    expect(await stat('Inválidos')).toBe('2');
    const errors = page.getByRole('table', { name: 'Filas con errores' });
    const lines = await errors.locator('tbody tr td:first-child').allInnerTexts();
    expect(lines).toEqual(['4', '5']);
    expect(await errors.locator('tbody tr td:last-child').allInnerTexts()).toEqual(['El email no es válido.', 'La fila no tiene nombre ni ningún dato de contacto.']);
    await page.getByText('Líneas duplicadas: 7').waitFor();
    await screenshot(page, 'leads-02-import-report');

    // The list shows the three imported leads; the search narrows it.
    await page.getByRole('link', { name: 'Ver leads' }).click();
    await page.getByRole('link', { name: 'Ana López' }).waitFor();
    await page.getByText('3 leads cargados').waitFor();
    await page.getByLabel('Buscar', { exact: true }).fill('marta');
    await page.getByText('1 lead cargado').waitFor();
    expect(await page.getByRole('link', { name: 'Ana López' }).count()).toBe(0);
    await page.getByLabel('Buscar', { exact: true }).fill('');
    await page.getByText('3 leads cargados').waitFor();
    await screenshot(page, 'leads-03-list');

    // 2) Open a lead.
    await page.getByRole('link', { name: 'Ana López' }).click();
    await page.getByRole('heading', { name: 'Ana López' }).waitFor();
    await page.getByText('+525512345678').waitFor();
    await page.getByText('utm_campaign').first().waitFor();
    await screenshot(page, 'leads-04-detail');

    // 3) Create an opportunity.
    await page.getByRole('button', { name: 'Nueva oportunidad' }).click();
    const opp = page.getByRole('dialog', { name: 'Nueva oportunidad' });
    await opp.getByLabel('Nombre').fill('Plan anual');
    await opp.getByLabel('Valor').fill('1500');
    await opp.getByRole('button', { name: 'Crear oportunidad' }).click();
    await opp.waitFor({ state: 'detached' });
    await page.locator('.opp-item').filter({ hasText: 'Plan anual' }).waitFor();
    await screenshot(page, 'leads-05-opportunity');

    // 4) Drag it to won on the board.
    await page.getByRole('link', { name: 'Ver en el tablero' }).click();
    await page.getByRole('heading', { name: 'Pipeline', exact: true }).waitFor();
    const card = page.locator('article[aria-label="Plan anual"]');
    await card.waitFor();
    expect(await card.evaluate((el) => el.closest('[data-stage]')?.getAttribute('data-stage'))).toBe('prospecting');
    await screenshot(page, 'leads-06-board');
    // Grab the card by its title (not its stage select) and drop it on the Won column.
    await card.dragTo(page.locator('[data-stage="won"]'), { sourcePosition: { x: 12, y: 10 } });
    await page.locator('[data-stage="won"] article[aria-label="Plan anual"]').waitFor();
    await page.getByText(/Plan anual movida a/).waitFor();
    // The server agrees (the board is refetched after the move).
    const board = await page.evaluate(async () => (await fetch('/api/pipeline/board')).json());
    const won = (board as { columns: { stage: { key: string }; items: { name: string }[]; totals: { currency: string; value_minor: number }[] }[] }).columns.find((c) => c.stage.key === 'won');
    expect(won?.items.map((i) => i.name)).toEqual(['Plan anual']);
    expect(won?.totals).toEqual([expect.objectContaining({ currency: 'MXN', value_minor: 150000 })]);
    await screenshot(page, 'leads-07-board-won');

    // 5) Record a sale on the lead.
    await page.locator('[data-stage="won"] article[aria-label="Plan anual"]').getByRole('link', { name: 'Ana López' }).click();
    await page.getByRole('heading', { name: 'Ana López' }).waitFor();
    await page.getByRole('button', { name: 'Registrar venta' }).click();
    const sale = page.getByRole('dialog', { name: 'Registrar venta' });
    await sale.getByLabel('Importe').fill('1500');
    await sale.getByLabel('Método de pago').fill('transferencia');
    await sale.getByLabel('Factura / referencia').fill('F-0001');
    await sale.getByRole('button', { name: 'Registrar venta' }).click();
    await sale.waitFor({ state: 'detached' });
    await page.getByRole('list', { name: 'Ventas' }).getByText('F-0001', { exact: false }).waitFor();

    // 6) The sale is on the timeline, newest first, after the stage change.
    const timeline = page.getByRole('list', { name: 'Actividad' });
    await timeline.getByText(/^Venta registrada: 1500,00\sMXN \(Completada\)$/).waitFor();
    const entries = await timeline.locator('.timeline-text').allInnerTexts();
    expect(entries[0]).toMatch(/^Venta registrada/);
    // The completed sale made the lead a customer (same transaction).
    expect(entries[1]).toBe('Estado: Nuevo → Cliente');
    expect(entries[2]).toMatch(/^Plan anual: etapa Prospección → Ganada/);
    expect(entries.some((e) => e.startsWith('Oportunidad creada: Plan anual'))).toBe(true);
    expect(entries[entries.length - 1]).toBe('Lead creado (Importación)');
    await timeline.scrollIntoViewIfNeeded();
    await screenshot(page, 'leads-08-sale-timeline');
    await page.getByRole('heading', { name: 'Atribución del anuncio' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'leads-09-attribution');

    // The same page in English.
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByRole('list', { name: 'Activity' }).getByText('Sale recorded: MX$1,500.00 (Completed)').waitFor();
    await page.getByRole('button', { name: 'Record sale' }).waitFor();
    await page.getByRole('link', { name: 'Back to leads' }).click();
    await page.getByText('3 leads loaded').waitFor();
    await screenshot(page, 'leads-10-list-en');
  });
});
