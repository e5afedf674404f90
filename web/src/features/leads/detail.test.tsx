import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, installFakeApi, sessionFor } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

const lead = {
  id: 'l1', name: 'Ana López', phone: '+525512345678', email: 'ana@example.com', wa_id: '525512345678', bsuid: null, status: 'qualified',
  owner_id: null, tags: ['vip'], lead_source: 'META_ADS', channel: 'click_to_whatsapp',
  meta_campaign_id: '120200', meta_adset_id: '120201', meta_ad_id: '120202', meta_ad_headline: 'Plan anual -20%', meta_ad_body: 'Escríbenos por WhatsApp',
  meta_source_url: 'https://fb.me/ad123', meta_lead_id: null, meta_form_id: null, ctwa_clid: 'ARAkLkA8', utm_source: null, utm_medium: null, utm_campaign: null,
  utm_content: null, utm_term: null, fbclid: null, external_ids: {},
  consent: { state: 'opted_in', opt_in_at: '2026-11-01T15:00:00Z', opt_in_method: 'whatsapp', opt_out_at: null, opt_out_method: null },
  last_inbound_at: null, whatsapp_window_until: null, timezone: 'America/Mexico_City', created_at: '2026-11-01T12:00:00Z', updated_at: '2026-11-01T12:00:00Z',
};
const opp = { id: 'o1', lead_id: 'l1', owner_id: null, name: 'Plan anual', value_minor: 150000, currency: 'MXN', stage_id: 's1', stage_key: 'won', stage_kind: 'won', probability: 100, expected_close_date: null, closed_at: null, lost_reason: null, created_at: '2026-11-01T12:00:00Z', updated_at: '2026-11-01T12:00:00Z' };
const touch = { id: 't1', is_first: true, lead_source: 'META_ADS', channel: 'click_to_whatsapp', meta_campaign_id: '120200', meta_adset_id: '120201', meta_ad_id: '120202', meta_lead_id: null, meta_form_id: null, ctwa_clid: 'ARAkLkA8', details: { meta_ad_headline: 'Plan anual -20%' }, occurred_at: '2026-11-01T12:00:00Z' };

function server(role: 'ceo' | 'marketing', permissions: string[]) {
  const session = sessionFor(role, permissions);
  return installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: session }),
    'GET /api/team': () => ({ status: 200, body: { items: [session.user] } }),
    'GET /api/leads/{id}': () => ({ status: 200, body: { lead, owner_name: null, touches: [touch], opportunities: [opp] } }),
    'GET /api/leads/{id}/timeline': () => ({ status: 200, body: { items: [], next_cursor: null } }),
    'GET /api/sales': () => ({ status: 200, body: { items: [], next_cursor: null } }),
    'GET /api/pipeline/stages': () => ({ status: 200, body: { items: [] } }),
    'POST /api/sales': (req) => ({ status: 201, body: { id: 's1', opportunity_id: 'o1', lead_id: 'l1', kind: 'sale', refund_of: null, status: 'completed', paid_at: null, method: null, invoice_ref: null, note: null, attribution: {}, created_by: null, created_at: '2026-11-02T00:00:00Z', updated_at: '2026-11-02T00:00:00Z', ...(req.body as object) } }),
  });
}

describe('lead detail', () => {
  it('shows the ad context: creative, ids, Click-to-WhatsApp click id, the ad link and consent', async () => {
    server('ceo', CEO_PERMISSIONS);
    renderApp('/crm/leads/l1');
    await screen.findByRole('heading', { name: 'Ana López' });
    expect(screen.getAllByText('Plan anual -20%').length).toBeGreaterThan(0);
    expect(screen.getByText('Escríbenos por WhatsApp')).toBeInTheDocument();
    expect(screen.getByText('120202')).toBeInTheDocument();
    expect(screen.getByText('Click ID de WhatsApp (ctwa_clid)').nextElementSibling).toHaveTextContent('Presente');
    expect(screen.getByRole('link', { name: 'Ver el anuncio' })).toHaveAttribute('href', 'https://fb.me/ad123');
    expect(screen.getByText('Aceptó')).toBeInTheDocument();
    expect(screen.getByText(/Aceptó el .* \(whatsapp\)/)).toBeInTheDocument();
  });

  it('records a sale in exact minor units of the opportunity currency', async () => {
    const { calls } = server('ceo', CEO_PERMISSIONS);
    renderApp('/crm/leads/l1');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Registrar venta' }));
    const dialog = screen.getByRole('dialog', { name: 'Registrar venta' });
    expect(within(dialog).getByLabelText('Moneda')).toHaveValue('MXN');
    await user.type(within(dialog).getByLabelText('Importe'), '1.234,56');
    await user.type(within(dialog).getByLabelText('Método de pago'), 'tarjeta');
    await user.click(within(dialog).getByRole('button', { name: 'Registrar venta' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'POST' && c.path === '/api/sales')?.body).toEqual({
      opportunity_id: 'o1', amount_minor: 123456, currency: 'MXN', status: 'completed', method: 'tarjeta', invoice_ref: null,
    }));
  });

  it('offers marketing no edit controls', async () => {
    server('marketing', ['leads.read', 'pipeline.read', 'marketing.read', 'marketing.manage']);
    renderApp('/crm/leads/l1');
    await screen.findByRole('heading', { name: 'Ana López' });
    expect(screen.getByText('Solo lectura: tu rol puede ver pero no editar este lead.')).toBeInTheDocument();
    for (const name of ['Registrar venta', 'Nueva oportunidad', 'Añadir nota', 'Registrar alta', 'Registrar baja', 'Añadir etiqueta']) {
      expect(screen.queryByRole('button', { name })).not.toBeInTheDocument();
    }
    expect(screen.queryByRole('combobox')).not.toBeInTheDocument();
  });
});
