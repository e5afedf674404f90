import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, installFakeApi, sessionFor } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';
import { dayEnd, dayStart } from './api/audit';

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

function entry(n: number) {
  return {
    id: `a${n}`,
    at: `2026-01-${String(10 + (n % 10)).padStart(2, '0')}T12:00:00Z`,
    user_id: 'u-ceo',
    user_email: 'ceo@acme.test',
    token_id: null,
    action: n % 2 ? 'user.create' : 'token.revoke',
    resource_type: 'user',
    resource_id: `r${n}`,
    ip: '127.0.0.1',
    user_agent: 'test',
    details: { n },
  };
}

describe('audit page', () => {
  it('pages with the cursor and sends filters as query parameters', async () => {
    const { calls } = installFakeApi({
      'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
      'GET /api/auth/me': () => ({ status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) }),
      'GET /api/audit': (req) => {
        if (req.query.get('action') === 'nothing') return { status: 200, body: { items: [], next_cursor: null } };
        return req.query.get('cursor') === 'c2'
          ? { status: 200, body: { items: [entry(3)], next_cursor: null } }
          : { status: 200, body: { items: [entry(1), entry(2)], next_cursor: 'c2' } };
      },
    });
    renderApp('/audit');
    const user = userEvent.setup({ delay: null });
    expect(await screen.findAllByText('ceo@acme.test')).toHaveLength(2);
    await user.click(screen.getByRole('button', { name: 'Cargar más' }));
    await waitFor(() => expect(screen.getAllByText('ceo@acme.test')).toHaveLength(3));
    expect(screen.getByText('3 registros; no hay más.')).toBeInTheDocument();
    expect(calls.filter((c) => c.path === '/api/audit').map((c) => c.query.get('cursor'))).toEqual([null, 'c2']);

    await user.type(screen.getByLabelText('Acción'), 'nothing');
    await user.click(screen.getByRole('button', { name: 'Filtrar' }));
    expect(await screen.findByText('Sin registros')).toBeInTheDocument();
    const last = calls.filter((c) => c.path === '/api/audit').at(-1);
    expect(last?.query.get('action')).toBe('nothing');
    expect(last?.query.get('limit')).toBe('50');
  });

  it('turns a day range into inclusive instants', () => {
    const start = new Date(dayStart('2026-03-01') ?? '');
    const end = new Date(dayEnd('2026-03-01') ?? '');
    expect(end.getTime() - start.getTime()).toBe(24 * 3600 * 1000 - 1);
    expect(start.getDate()).toBe(1);
    expect(dayStart('not-a-date')).toBeUndefined();
  });
});
