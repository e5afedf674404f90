import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, installFakeApi, sessionFor } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';

type U = { id: string; email: string; name: string; role: string; status: string };

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

function teamServer() {
  const ceo = sessionFor('ceo', CEO_PERMISSIONS);
  const users: U[] = [{ ...ceo.user }];
  const api = installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: ceo }),
    'GET /api/team': () => ({ status: 200, body: { items: users } }),
    'POST /api/team': (req) => {
      const b = req.body as U & { password: string };
      if (users.some((u) => u.email === b.email)) return { status: 409, body: { error: { code: 'email_taken', message: 'taken' } } };
      const user = { id: `u${users.length + 1}`, email: b.email, name: b.name, role: b.role, status: 'active' };
      users.push(user);
      return { status: 201, body: user };
    },
    'POST /api/team/{id}/password-reset': (req) => {
      const id = req.path.split('/')[3];
      const user = users.find((u) => u.id === id);
      if (!user) return { status: 404, body: { error: { code: 'not_found', message: 'nope' } } };
      if (user.role === 'ceo') return { status: 422, body: { error: { code: 'role_not_grantable', message: 'only a ceo' } } };
      if (user.email.endsWith('@mail.test')) return { status: 200, body: { emailed: true, reset_url: null, expires_at: new Date(Date.now() + 30 * 60_000).toISOString() } };
      return { status: 200, body: { emailed: false, reset_url: `http://crm.test/reset-password#token=crm_reset_${id}`, expires_at: new Date(Date.now() + 30 * 60_000).toISOString() } };
    },
    'PATCH /api/team/{id}': (req) => {
      const id = req.path.split('/').pop();
      const user = users.find((u) => u.id === id);
      if (!user) return { status: 404, body: { error: { code: 'not_found', message: 'nope' } } };
      Object.assign(user, req.body);
      return { status: 200, body: user };
    },
  });
  return { ...api, users };
}

describe('team page', () => {
  it('adds a seller with the CSRF token and shows them in the list', async () => {
    const { calls } = teamServer();
    renderApp('/team');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Añadir usuario' }));
    const dialog = screen.getByRole('dialog', { name: 'Añadir usuario' });
    await user.type(within(dialog).getByLabelText('Nombre'), 'Sergio Ventas');
    await user.type(within(dialog).getByLabelText('Correo electrónico'), 'sergio@acme.test');
    expect(within(dialog).getByLabelText('Rol')).toHaveValue('seller');
    await user.type(within(dialog).getByLabelText('Contraseña inicial'), 'seller-pass-1');
    await user.click(within(dialog).getByRole('button', { name: 'Crear usuario' }));

    expect(await screen.findByText('Sergio Ventas')).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    const post = calls.find((c) => c.method === 'POST' && c.path === '/api/team');
    expect(post?.body).toEqual({ name: 'Sergio Ventas', email: 'sergio@acme.test', role: 'seller', password: 'seller-pass-1' });
    expect(post?.headers.get('X-CSRF-Token')).toBe('csrf-ceo');
  });

  it('shows the server refusal inside the dialog', async () => {
    teamServer();
    renderApp('/team');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Añadir usuario' }));
    const dialog = screen.getByRole('dialog');
    await user.type(within(dialog).getByLabelText('Nombre'), 'Dup');
    await user.type(within(dialog).getByLabelText('Correo electrónico'), 'ceo@acme.test');
    await user.type(within(dialog).getByLabelText('Contraseña inicial'), 'whatever-123');
    await user.click(within(dialog).getByRole('button', { name: 'Crear usuario' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Ya existe un usuario con ese correo.');
  });

  it('changes a role and disables a user, but not yourself', async () => {
    const { calls, users } = teamServer();
    users.push({ id: 'u2', email: 'm@acme.test', name: 'Marta', role: 'marketing', status: 'active' });
    renderApp('/team');
    const user = userEvent.setup({ delay: null });
    const select = await screen.findByLabelText('Rol de Marta');
    expect(screen.getByLabelText('Rol de Ana ceo')).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Desactivar a Ana ceo' })).not.toBeInTheDocument();

    await user.selectOptions(select, 'admin');
    expect(await screen.findByText('Marta ahora es Administrador.')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Desactivar a Marta' }));
    expect(await screen.findByRole('button', { name: 'Activar a Marta' })).toBeInTheDocument();
    const patches = calls.filter((c) => c.method === 'PATCH').map((c) => [c.path, c.body]);
    expect(patches).toEqual([
      ['/api/team/u2', { role: 'admin' }],
      ['/api/team/u2', { status: 'disabled' }],
    ]);
  });

  it('resets a member\'s password: the link to hand over when the server cannot e-mail', async () => {
    const { calls, users } = teamServer();
    users.push({ id: 'u2', email: 's@acme.test', name: 'Sergio', role: 'seller', status: 'active' });
    users.push({ id: 'u3', email: 'off@acme.test', name: 'Olga', role: 'seller', status: 'disabled' });
    renderApp('/team');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Restablecer la contraseña de Sergio' }));
    // Not for yourself, nor for a disabled user.
    expect(screen.queryByRole('button', { name: 'Restablecer la contraseña de Ana ceo' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Restablecer la contraseña de Olga' })).not.toBeInTheDocument();

    let dialog = screen.getByRole('dialog', { name: 'Restablecer contraseña' });
    expect(dialog).toHaveTextContent('Crearemos un enlace de un solo uso para que Sergio elija una contraseña nueva. Vence en 30 minutos.');
    await user.click(within(dialog).getByRole('button', { name: 'Crear enlace' }));

    dialog = await screen.findByRole('dialog', { name: 'Enlace creado' });
    expect(within(dialog).getByTestId('reset-link')).toHaveValue('http://crm.test/reset-password#token=crm_reset_u2');
    expect(dialog).toHaveTextContent('Entrégale el enlace a Sergio en persona');
    expect(dialog).toHaveTextContent(/Vence el .+ \(dentro de 30 minutos\)\. Sirve una sola vez\./);
    expect(within(dialog).getByRole('button', { name: 'Copiar' })).toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Listo' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    const post = calls.find((c) => c.method === 'POST' && c.path === '/api/team/u2/password-reset');
    expect(post?.headers.get('X-CSRF-Token')).toBe('csrf-ceo');
  });

  it('says where the link was e-mailed, and explains refusals by code', async () => {
    const { users } = teamServer();
    users.push({ id: 'u2', email: 'm@mail.test', name: 'Marta', role: 'marketing', status: 'active' });
    users.push({ id: 'u3', email: 'otro@acme.test', name: 'Otro CEO', role: 'ceo', status: 'active' });
    renderApp('/team');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Restablecer la contraseña de Marta' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Crear enlace' }));
    const sent = await screen.findByRole('dialog', { name: 'Enlace enviado' });
    expect(sent).toHaveTextContent('Le enviamos un enlace por correo a m@mail.test.');
    expect(within(sent).queryByTestId('reset-link')).not.toBeInTheDocument();
    await user.click(within(sent).getByRole('button', { name: 'Listo' }));

    await user.click(screen.getByRole('button', { name: 'Restablecer la contraseña de Otro CEO' }));
    const dialog = screen.getByRole('dialog', { name: 'Restablecer contraseña' });
    await user.click(within(dialog).getByRole('button', { name: 'Crear enlace' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Solo un CEO puede restablecer la contraseña de otro CEO.');
  });
});
