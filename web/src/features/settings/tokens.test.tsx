import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, within } from '@testing-library/react';
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

type Tok = { id: string; name: string; role: string; created_at: string; last_used_at: string | null; revoked_at: string | null };

describe('API tokens page', () => {
  it('shows an empty state, creates a token showing its secret once, and revokes it', async () => {
    const tokens: Tok[] = [];
    const { calls } = installFakeApi({
      'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
      'GET /api/auth/me': () => ({ status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) }),
      'GET /api/tokens': () => ({ status: 200, body: { items: tokens } }),
      'POST /api/tokens': (req) => {
        const b = req.body as { name: string; role: string };
        const token = { id: 'tk1', name: b.name, role: b.role, created_at: '2026-01-10T10:00:00Z', last_used_at: null, revoked_at: null };
        tokens.push(token);
        return { status: 201, body: { token, secret: 'crm_secret_abc123' } };
      },
      'DELETE /api/tokens/{id}': () => {
        tokens[0]!.revoked_at = '2026-01-11T10:00:00Z';
        return { status: 204 };
      },
    });
    renderApp('/settings/tokens');
    const user = userEvent.setup({ delay: null });
    expect(await screen.findByText('No hay tokens')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Nuevo token' }));
    let dialog = screen.getByRole('dialog', { name: 'Nuevo token de API' });
    await user.type(within(dialog).getByLabelText('Nombre'), 'Zapier');
    await user.selectOptions(within(dialog).getByLabelText('Rol'), 'marketing');
    await user.click(within(dialog).getByRole('button', { name: 'Crear token' }));

    dialog = await screen.findByRole('dialog', { name: 'Token creado' });
    expect(within(dialog).getByTestId('token-secret')).toHaveValue('crm_secret_abc123');
    expect(within(dialog).getByText('Copia el token ahora: no se volverá a mostrar.')).toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Ya lo copié' }));
    // Once closed, the secret is gone from the page.
    expect(screen.queryByDisplayValue('crm_secret_abc123')).not.toBeInTheDocument();
    expect(await screen.findByText('Zapier')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Revocar Zapier' }));
    const confirm = screen.getByRole('dialog', { name: 'Revocar token' });
    await user.click(within(confirm).getByRole('button', { name: 'Revocar' }));
    expect(await screen.findByText('Revocado')).toBeInTheDocument();

    const del = calls.find((c) => c.method === 'DELETE');
    expect([del?.path, del?.headers.get('X-CSRF-Token')]).toEqual(['/api/tokens/tk1', 'csrf-ceo']);
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'Zapier', role: 'marketing', expires_in_days: 90 });
  });

  it('shows a load failure as an error with retry', async () => {
    installFakeApi({
      'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
      'GET /api/auth/me': () => ({ status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) }),
      'GET /api/tokens': () => ({ status: 403, body: { error: { code: 'forbidden', message: 'no' } } }),
    });
    renderApp('/settings/tokens');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Tu rol no tiene permiso para esta sección.');
    expect(within(alert).getByRole('button', { name: 'Reintentar' })).toBeInTheDocument();
  });
});
