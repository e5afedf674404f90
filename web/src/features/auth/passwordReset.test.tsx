import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { installFakeApi, type Handler } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';
import { tokenFromHash } from './routes/ResetPasswordPage';
import { safeNext } from './safeNext';

const ready: Handler = () => ({ status: 200, body: { needs_setup: false } });
const anonymous: Handler = () => ({ status: 401, body: { error: { code: 'unauthenticated', message: 'no session' } } });

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

describe('forgotten password', () => {
  it('goes from the login page to the request form, keeping the address typed, and always gives the same answer', async () => {
    const { calls } = installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': anonymous,
      'POST /api/auth/password-reset': () => ({ status: 202, body: { accepted: true } }),
    });
    const { router } = renderApp('/login');
    const user = userEvent.setup({ delay: null });
    await user.type(await screen.findByLabelText('Correo electrónico'), 'sergio@acme.test');
    await user.click(screen.getByRole('link', { name: '¿Olvidaste tu contraseña?' }));
    expect(await screen.findByRole('heading', { name: 'Recupera tu contraseña' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/forgot-password');
    // The address travels in router state, not in the URL (which could reach server logs).
    expect(router.state.location.search).toBe('');
    expect(screen.getByLabelText('Correo electrónico')).toHaveValue('sergio@acme.test');

    await user.click(screen.getByRole('button', { name: 'Enviar enlace' }));
    expect(await screen.findByText('Si la dirección tiene una cuenta, te enviamos un enlace para elegir una contraseña nueva. Vence en 30 minutos.')).toBeInTheDocument();
    expect(calls.find((c) => c.path === '/api/auth/password-reset')?.body).toEqual({ email: 'sergio@acme.test' });
    await user.click(screen.getByRole('link', { name: 'Volver a iniciar sesión' }));
    expect(await screen.findByRole('heading', { name: 'Inicia sesión' })).toBeInTheDocument();
  });

  it('checks the address and explains a server without e-mail', async () => {
    const { calls } = installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': anonymous,
      'POST /api/auth/password-reset': () => ({ status: 422, body: { error: { code: 'password_reset_unavailable', message: 'no smtp' } } }),
    });
    renderApp('/forgot-password');
    const user = userEvent.setup({ delay: null });
    await user.type(await screen.findByLabelText('Correo electrónico'), 'not-an-address');
    await user.click(screen.getByRole('button', { name: 'Enviar enlace' }));
    expect(await screen.findByText('Escribe un correo electrónico válido.')).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    await user.clear(screen.getByLabelText('Correo electrónico'));
    await user.type(screen.getByLabelText('Correo electrónico'), 'sergio@acme.test');
    await user.click(screen.getByRole('button', { name: 'Enviar enlace' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Este servidor no envía correos. Pídele a un administrador que restablezca tu contraseña.');
  });

  it('says when to try again after too many requests', async () => {
    installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': anonymous,
      'POST /api/auth/password-reset': () => ({ status: 429, headers: { 'Retry-After': '42' }, body: { error: { code: 'rate_limited', message: 'slow down' } } }),
    });
    renderApp('/forgot-password');
    const user = userEvent.setup({ delay: null });
    await user.type(await screen.findByLabelText('Correo electrónico'), 'sergio@acme.test');
    await user.click(screen.getByRole('button', { name: 'Enviar enlace' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Demasiados intentos. Vuelve a intentarlo en 42 s.');
  });
});

describe('reset link', () => {
  it('reads the token from the fragment, clears it, sets the new password and returns to login with a message', async () => {
    const { calls } = installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': anonymous,
      'POST /api/auth/password-reset/complete': (req) => {
        const b = req.body as { new_password: string };
        if (b.new_password === 'qwertyuiop') return { status: 422, body: { error: { code: 'common_password', message: 'too common' } } };
        return { status: 204 };
      },
    });
    const { router } = renderApp('/reset-password#token=crm_reset_abc123');
    const user = userEvent.setup({ delay: null });
    expect(await screen.findByRole('heading', { name: 'Elige una contraseña nueva' })).toBeInTheDocument();
    // The secret leaves the address bar at once.
    expect(router.state.location.hash).toBe('');
    expect(router.state.location.pathname).toBe('/reset-password');

    await user.type(screen.getByLabelText('Contraseña nueva'), 'Nueva-clave-segura-77');
    await user.type(screen.getByLabelText('Repite la contraseña nueva'), 'Nueva-clave-segura-7');
    await user.click(screen.getByRole('button', { name: 'Guardar contraseña' }));
    expect(await screen.findByText('Las contraseñas no coinciden.')).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    await user.clear(screen.getByLabelText('Contraseña nueva'));
    await user.type(screen.getByLabelText('Contraseña nueva'), 'qwertyuiop');
    await user.clear(screen.getByLabelText('Repite la contraseña nueva'));
    await user.type(screen.getByLabelText('Repite la contraseña nueva'), 'qwertyuiop');
    await user.click(screen.getByRole('button', { name: 'Guardar contraseña' }));
    expect(await screen.findByText(/Esa contraseña es demasiado común/)).toBeInTheDocument();

    await user.clear(screen.getByLabelText('Contraseña nueva'));
    await user.type(screen.getByLabelText('Contraseña nueva'), 'Nueva-clave-segura-77');
    await user.clear(screen.getByLabelText('Repite la contraseña nueva'));
    await user.type(screen.getByLabelText('Repite la contraseña nueva'), 'Nueva-clave-segura-77');
    await user.click(screen.getByRole('button', { name: 'Guardar contraseña' }));
    expect(await screen.findByRole('heading', { name: 'Inicia sesión' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Contraseña guardada. Inicia sesión con tu contraseña nueva.');
    expect(router.state.location.pathname).toBe('/login');
    const posts = calls.filter((c) => c.path === '/api/auth/password-reset/complete').map((c) => c.body);
    expect(posts).toEqual([
      { token: 'crm_reset_abc123', new_password: 'qwertyuiop' },
      { token: 'crm_reset_abc123', new_password: 'Nueva-clave-segura-77' },
    ]);
  });

  it('explains a used or expired link and offers a new one', async () => {
    installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': anonymous,
      'POST /api/auth/password-reset/complete': () => ({ status: 422, body: { error: { code: 'reset_token_invalid', message: 'spent' } } }),
    });
    const { router } = renderApp('/reset-password#token=crm_reset_old');
    const user = userEvent.setup({ delay: null });
    await user.type(await screen.findByLabelText('Contraseña nueva'), 'Nueva-clave-segura-77');
    await user.type(screen.getByLabelText('Repite la contraseña nueva'), 'Nueva-clave-segura-77');
    await user.click(screen.getByRole('button', { name: 'Guardar contraseña' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Este enlace ya no sirve: ya se usó, se pidió uno más reciente o pasaron más de 30 minutos. Pide un enlace nuevo.');
    await user.click(screen.getByRole('link', { name: 'Pedir un enlace nuevo' }));
    expect(await screen.findByRole('heading', { name: 'Recupera tu contraseña' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/forgot-password');
  });

  it('says so when the link has no token', async () => {
    installFakeApi({ 'GET /api/setup': ready, 'GET /api/auth/me': anonymous });
    renderApp('/reset-password');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Este enlace está incompleto. Ábrelo tal como lo recibiste o pide uno nuevo.');
    expect(screen.queryByLabelText('Contraseña nueva')).not.toBeInTheDocument();
    expect(within(document.body).getByRole('link', { name: 'Volver a iniciar sesión' })).toBeInTheDocument();
  });

  it('parses the token out of the fragment', () => {
    expect(tokenFromHash('#token=crm_reset_x1')).toBe('crm_reset_x1');
    expect(tokenFromHash('token=crm_reset_x1')).toBe('crm_reset_x1');
    expect(tokenFromHash('#token=')).toBeNull();
    expect(tokenFromHash('')).toBeNull();
    expect(tokenFromHash('#other=1')).toBeNull();
  });

  it('never returns to the reset pages after login', () => {
    expect(safeNext('/reset-password')).toBe('/');
    expect(safeNext('/forgot-password')).toBe('/');
    expect(safeNext('/account')).toBe('/account');
  });
});
