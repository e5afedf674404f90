import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { SELLER_PERMISSIONS, installFakeApi, sessionFor } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

type S = { id: string; current: boolean; user_agent: string | null; ip: string | null; created_at: string; last_seen_at: string; expires_at: string; idle_expires_at: string };

function item(id: string, current: boolean, user_agent: string | null, ip: string | null, minutesAgo: number): S {
  const seen = new Date(Date.now() - minutesAgo * 60_000).toISOString();
  return { id, current, user_agent, ip, created_at: '2026-01-10T15:00:00Z', last_seen_at: seen, expires_at: '2099-01-01T00:00:00Z', idle_expires_at: '2099-01-01T00:00:00Z' };
}

function accountServer(passwordCheck?: (body: { current_password: string; new_password: string }) => { code: string } | null) {
  const seller = sessionFor('seller', SELLER_PERMISSIONS);
  // Most recent first, as the server lists them; the page puts this device first.
  let sessions: S[] = [item('s2', false, SAFARI_IPHONE, '198.51.100.4', 120), item('s1', true, CHROME_WINDOWS, '203.0.113.7', 0), item('s3', false, FIREFOX_LINUX, null, 60 * 26)];
  const api = installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: seller }),
    'GET /api/auth/sessions': () => ({ status: 200, body: { items: sessions } }),
    'DELETE /api/auth/sessions/{id}': (req) => {
      const id = req.path.split('/').pop();
      sessions = sessions.filter((s) => s.id !== id);
      return { status: 204 };
    },
    'POST /api/auth/sessions/revoke-others': () => {
      const revoked = sessions.filter((s) => !s.current).length;
      sessions = sessions.filter((s) => s.current);
      return { status: 200, body: { revoked } };
    },
    'POST /api/auth/password': (req) => {
      const body = req.body as { current_password: string; new_password: string };
      const refused = passwordCheck?.(body);
      if (refused) return { status: 422, body: { error: { code: refused.code, message: 'refused' } } };
      sessions = sessions.filter((s) => s.current);
      return { status: 204 };
    },
  });
  return api;
}

describe('account page', () => {
  it('is reached from the user menu and lists the sessions in plain words', async () => {
    accountServer();
    const { router } = renderApp('/');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: /Ana seller/ }));
    await user.click(screen.getByRole('menuitem', { name: 'Mi cuenta' }));
    expect(await screen.findByRole('heading', { name: 'Mi cuenta' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/account');

    const list = await screen.findByRole('list', { name: 'Sesiones abiertas' });
    const rows = within(list).getAllByTestId('session');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent('Chrome en Windows');
    expect(rows[0]).toHaveTextContent('Esta sesión');
    expect(rows[0]).toHaveTextContent('IP 203.0.113.7');
    expect(rows[0]).toHaveTextContent('Activa ahora');
    // The current session has no sign-out button of its own (the user menu has it).
    expect(within(rows[0]!).queryByRole('button')).not.toBeInTheDocument();
    expect(rows[1]).toHaveTextContent('Safari en iPhone');
    expect(rows[1]).toHaveTextContent('Última actividad: hace 2 horas');
    expect(rows[2]).toHaveTextContent('Firefox en Linux');
    expect(rows[2]).toHaveTextContent('IP desconocida');
    expect(rows[2]).toHaveTextContent('Última actividad: ayer');
  });

  it('signs out one other session, then all the others with the count', async () => {
    const { calls } = accountServer();
    renderApp('/account');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Cerrar la sesión de Safari en iPhone (IP 198.51.100.4)' }));
    expect(await screen.findByText('Cerramos la sesión de Safari en iPhone.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId('session')).toHaveLength(2));
    const del = calls.find((c) => c.method === 'DELETE');
    expect([del?.path, del?.headers.get('X-CSRF-Token')]).toEqual(['/api/auth/sessions/s2', 'csrf-seller']);

    await user.click(screen.getByRole('button', { name: 'Cerrar sesión en todos los demás dispositivos' }));
    const dialog = screen.getByRole('dialog', { name: 'Cerrar sesión en todos los demás dispositivos' });
    expect(dialog).toHaveTextContent('Se cerrará 1 sesión en otro dispositivo. Esta sesión sigue abierta.');
    await user.click(within(dialog).getByRole('button', { name: 'Cerrar sesión' }));
    expect(await screen.findByText('Cerramos 1 sesión en otro dispositivo.')).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(await screen.findByText('Solo tienes abierta esta sesión.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cerrar sesión en todos los demás dispositivos' })).not.toBeInTheDocument();
    expect(calls.find((c) => c.path === '/api/auth/sessions/revoke-others')?.headers.get('X-CSRF-Token')).toBe('csrf-seller');
  });

  it('checks the new password before sending it, shows refusals by code, and changes it', async () => {
    const { calls } = accountServer((b) => {
      if (b.current_password !== 'seller-password-123') return { code: 'wrong_current_password' };
      if (b.new_password === 'password1234') return { code: 'common_password' };
      return null;
    });
    renderApp('/account');
    const user = userEvent.setup({ delay: null });
    const form = await screen.findByRole('form', { name: 'Cambiar contraseña' });
    const current = within(form).getByLabelText('Contraseña actual');
    const next = within(form).getByLabelText('Contraseña nueva');
    const repeat = within(form).getByLabelText('Repite la contraseña nueva');
    const submit = within(form).getByRole('button', { name: 'Cambiar contraseña' });

    // Too short and not repeated the same: refused before any request.
    await user.type(current, 'seller-password-123');
    await user.type(next, 'short');
    await user.type(repeat, 'shorty');
    await user.click(submit);
    expect(await within(form).findByText('Mínimo 10 caracteres.')).toBeInTheDocument();
    expect(within(form).getByText('Las contraseñas no coinciden.')).toBeInTheDocument();
    expect(calls.some((c) => c.path === '/api/auth/password')).toBe(false);

    // A common password: the server's refusal, in Spanish, under the new password.
    await user.clear(next);
    await user.type(next, 'password1234');
    await user.clear(repeat);
    await user.type(repeat, 'password1234');
    await user.click(submit);
    expect(await within(form).findByText(/Esa contraseña es demasiado común/)).toBeInTheDocument();

    // A wrong current password: shown under that field.
    await user.clear(current);
    await user.type(current, 'not-my-password');
    await user.clear(next);
    await user.type(next, 'Nueva-clave-segura-77');
    await user.clear(repeat);
    await user.type(repeat, 'Nueva-clave-segura-77');
    await user.click(submit);
    expect(await within(form).findByText('La contraseña actual no es correcta.')).toBeInTheDocument();
    expect(current).toHaveAttribute('aria-invalid', 'true');

    await user.clear(current);
    await user.type(current, 'seller-password-123');
    await user.click(submit);
    expect(await screen.findByText('Contraseña cambiada. Cerramos tu sesión en los demás dispositivos.')).toBeInTheDocument();
    expect(current).toHaveValue('');
    expect(next).toHaveValue('');
    // The list refreshes: only this session is left.
    await waitFor(() => expect(screen.getAllByTestId('session')).toHaveLength(1));
    const posts = calls.filter((c) => c.path === '/api/auth/password');
    expect(posts.at(-1)?.body).toEqual({ current_password: 'seller-password-123', new_password: 'Nueva-clave-segura-77' });
    expect(posts.at(-1)?.headers.get('X-CSRF-Token')).toBe('csrf-seller');
  });

  it('speaks English too', async () => {
    await changeLanguage('en');
    accountServer();
    renderApp('/account');
    expect(await screen.findByRole('heading', { name: 'My account' })).toBeInTheDocument();
    const rows = await screen.findAllByTestId('session');
    expect(rows[0]).toHaveTextContent('Chrome on Windows');
    expect(rows[0]).toHaveTextContent('This session');
    expect(screen.getByRole('button', { name: 'Sign out of all other devices' })).toBeInTheDocument();
  });
});
