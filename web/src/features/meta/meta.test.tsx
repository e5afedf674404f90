import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, installFakeApi, sessionFor, type Handler } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';

beforeEach(async () => {
  await changeLanguage('en');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

const MARKETING = ['leads.read', 'pipeline.read', 'marketing.read', 'marketing.manage'];

function status(over: Record<string, unknown> = {}) {
  return {
    connected: true,
    status: 'ok',
    source: 'oauth',
    expires_at: '2027-01-20T00:00:00Z',
    days_left: 59,
    scopes: ['ads_read'],
    missing_scopes: [],
    meta_user_name: 'Ana Meta',
    business: { id: '10', name: 'Acme Biz' },
    ad_account: { id: 'act_1', name: 'Main account', currency: 'USD', timezone: 'UTC' },
    whatsapp: null,
    pages: [],
    checked_at: null,
    connected_at: '2026-11-21T00:00:00Z',
    last_error: null,
    ...over,
  };
}

function server(session: ReturnType<typeof sessionFor>, routes: Record<string, Handler>) {
  return installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: session }),
    ...routes,
  });
}

describe('MetaTokenBanner', () => {
  it('is red with a reconnect link when the token expired, on any page', async () => {
    server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: status({ status: 'expired', days_left: 0 }) }),
    });
    renderApp('/team');
    const banner = await screen.findByTestId('meta-banner');
    expect(banner).toHaveAttribute('data-status', 'expired');
    expect(banner).toHaveTextContent('The Meta connection expired');
    expect(banner).toHaveClass('meta-banner-danger');
    expect(screen.getByRole('link', { name: 'Reconnect' })).toHaveAttribute('href', '/settings/meta?reconnect=1');
  });

  it('is amber when the token expires soon; marketing sees it without a reconnect link', async () => {
    server(sessionFor('marketing', MARKETING), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: status({ status: 'expiring', days_left: 3 }) }),
    });
    renderApp('/');
    const banner = await screen.findByTestId('meta-banner');
    expect(banner).toHaveClass('meta-banner-warning');
    expect(banner).toHaveTextContent('The Meta token expires in 3 days.');
    expect(screen.queryByRole('link', { name: 'Reconnect' })).toBeNull();
  });

  it('says nothing about "not connected" outside marketing pages, and is absent for sellers', async () => {
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: status({ connected: false, status: 'disconnected' }) }),
    });
    renderApp('/team');
    await screen.findByRole('heading', { name: 'Team' });
    await vi.waitFor(() => expect(calls.some((c) => c.path === '/api/crm/marketing/token-status')).toBe(true));
    expect(screen.queryByTestId('meta-banner')).toBeNull();
    vi.unstubAllGlobals();

    const seller = server(sessionFor('seller', ['leads.read', 'leads.write']), {});
    renderApp('/');
    await screen.findAllByText(/Ana seller/);
    expect(seller.calls.some((c) => c.path === '/api/crm/marketing/token-status')).toBe(false);
  });
});

describe('Settings → Meta', () => {
  it('walks the wizard after the OAuth return: business, ad account search, assets, success', async () => {
    let current = status({ ad_account: null, business: null });
    const { calls } = server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: current }),
      'GET /api/crm/marketing/meta-portfolios': () => ({ status: 200, body: { items: [{ id: '10', name: 'Acme Biz' }] } }),
      'GET /api/crm/marketing/meta-accounts': () => ({
        status: 200,
        body: {
          items: [
            { id: 'act_1', account_id: '1', name: 'Main account', currency: 'USD', timezone: 'UTC', status: 'ACTIVE', ownership: 'owned', business_name: 'Acme Biz' },
            { id: 'act_2', account_id: '2', name: 'Client account', currency: 'ARS', timezone: 'UTC', status: 'DISABLED', ownership: 'client', business_name: null },
          ],
        },
      }),
      'POST /api/crm/marketing/connect': (req) => {
        current = status({ ad_account: { id: (req.body as { account_id: string }).account_id, name: 'Client account', currency: 'ARS', timezone: 'UTC' } });
        return { status: 200, body: current };
      },
      'GET /api/crm/marketing/whatsapp': () => ({
        status: 200,
        body: { items: [{ id: '77', name: 'Acme WA', ownership: 'owned', phone_numbers: [{ id: '88', display_phone_number: '+1 555 0100', verified_name: 'Acme', quality_rating: 'GREEN' }] }] },
      }),
      'POST /api/crm/marketing/whatsapp': () => ({ status: 200, body: current }),
      'GET /api/crm/marketing/lead-pages': () => ({
        status: 200,
        body: { items: [{ id: '55', name: 'Acme Page', category: 'Shop', selected: false, can_subscribe: true }] },
      }),
      'POST /api/crm/marketing/lead-pages': () => ({ status: 200, body: current }),
    });
    renderApp('/settings/meta?connected=1');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: /Acme Biz/ }));
    await screen.findByText('Main account');
    await user.type(screen.getByLabelText('Search by name or id'), 'client');
    expect(screen.queryByText('Main account')).toBeNull();
    await user.click(screen.getByRole('button', { name: /Client account/ }));
    await user.click(await screen.findByRole('radio', { name: /\+1 555 0100/ }));
    await user.click(screen.getByRole('checkbox', { name: /Acme Page/ }));
    await user.click(screen.getByRole('button', { name: 'Save and finish' }));
    await screen.findByTestId('meta-wizard-done');
    const connect = calls.find((c) => c.method === 'POST' && c.path === '/api/crm/marketing/connect');
    expect(connect?.body).toEqual({ account_id: 'act_2', account_name: 'Client account', portfolio_id: '10', portfolio_name: 'Acme Biz' });
    expect(connect?.headers.get('X-CSRF-Token')).toBe('csrf-ceo');
    expect(calls.find((c) => c.method === 'POST' && c.path === '/api/crm/marketing/whatsapp')?.body).toEqual({ waba_id: '77', phone_number_ids: ['88'] });
    expect(calls.find((c) => c.method === 'POST' && c.path === '/api/crm/marketing/lead-pages')?.body).toEqual({ page_ids: ['55'] });
  });

  it('explains an OAuth error code and offers to start again', async () => {
    server(sessionFor('ceo', CEO_PERMISSIONS), {
      'GET /api/crm/marketing/token-status': () => ({ status: 200, body: status({ connected: false, status: 'disconnected' }) }),
    });
    renderApp('/settings/meta?meta_error=state_mismatch');
    expect(await screen.findByTestId('meta-error')).toHaveTextContent('This authorization was started by another session');
    expect(screen.getByRole('button', { name: 'Connect with Meta' })).toBeEnabled();
  });
});
