import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../api/client';
import { changeLanguage } from '../i18n';
import { CEO_PERMISSIONS, SELLER_PERMISSIONS, installFakeApi, sessionFor, type Handler } from '../test/fakeApi';
import { renderApp } from '../test/renderApp';

const ready: Handler = () => ({ status: 200, body: { needs_setup: false } });
const anonymous: Handler = () => ({ status: 401, body: { error: { code: 'unauthenticated', message: 'no session' } } });

beforeEach(async () => {
  localStorage.clear();
  await changeLanguage('es');
});

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

function sidebar() {
  return within(screen.getByRole('complementary', { name: 'Navegación principal' }));
}

describe('app shell', () => {
  it('sends a fresh instance to the first-run page and creates the tenant and CEO', async () => {
    const ceo = sessionFor('ceo', CEO_PERMISSIONS);
    let setupDone = false;
    const { calls } = installFakeApi({
      'GET /api/setup': () => ({ status: 200, body: { needs_setup: !setupDone } }),
      'GET /api/auth/me': () => (setupDone ? { status: 200, body: ceo } : anonymous({} as never)),
      'POST /api/setup': () => {
        setupDone = true;
        return { status: 201, body: ceo };
      },
    });
    const { router } = renderApp('/team');
    expect(await screen.findByRole('heading', { name: 'Configura tu CRM' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/setup');

    const user = userEvent.setup({ delay: null });
    await user.type(screen.getByLabelText('Nombre de la empresa'), 'Acme');
    await user.selectOptions(screen.getByLabelText('Moneda de reporte'), 'MXN');
    await user.type(screen.getByLabelText('Tu nombre'), 'Ana Pérez');
    await user.type(screen.getByLabelText('Correo electrónico'), 'ana@acme.test');
    await user.type(screen.getByLabelText('Contraseña'), 'short');
    await user.click(screen.getByRole('button', { name: 'Crear empresa y entrar' }));
    // Client-side validation stops a too-short password before any request.
    expect(await screen.findByText('Mínimo 10 caracteres.')).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);

    await user.clear(screen.getByLabelText('Contraseña'));
    await user.type(screen.getByLabelText('Contraseña'), 'correct horse battery');
    await user.type(screen.getByLabelText('Repite la contraseña'), 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Crear empresa y entrar' }));

    expect(await screen.findByRole('heading', { name: 'Hola, Ana' })).toBeInTheDocument();
    const post = calls.find((c) => c.method === 'POST' && c.path === '/api/setup');
    expect(post?.body).toMatchObject({ tenant_name: 'Acme', currency: 'MXN', locale: 'es', country: 'US', name: 'Ana Pérez', email: 'ana@acme.test', password: 'correct horse battery' });
    expect(router.state.location.pathname).toBe('/');
  });

  it('asks a production server for the setup token it printed, and explains a wrong one in Spanish', async () => {
    const ceo = sessionFor('ceo', CEO_PERMISSIONS);
    let setupDone = false;
    const { calls } = installFakeApi({
      'GET /api/setup': () => ({ status: 200, body: { needs_setup: !setupDone, needs_setup_token: !setupDone } }),
      'GET /api/auth/me': () => (setupDone ? { status: 200, body: ceo } : anonymous({} as never)),
      'POST /api/setup': (req) => {
        if ((req.body as { setup_token?: string }).setup_token !== 'crm_setup_abc') {
          return { status: 403, body: { error: { code: 'setup_token_invalid', message: 'enter the token' } } };
        }
        setupDone = true;
        return { status: 201, body: ceo };
      },
    });
    renderApp('/setup');
    const user = userEvent.setup({ delay: null });
    const token = await screen.findByLabelText('Token de configuración');
    await user.type(token, 'crm_setup_wrong');
    await user.type(screen.getByLabelText('Nombre de la empresa'), 'Acme');
    await user.type(screen.getByLabelText('Tu nombre'), 'Ana Pérez');
    await user.type(screen.getByLabelText('Correo electrónico'), 'ana@acme.test');
    await user.type(screen.getByLabelText('Contraseña'), 'correct horse battery');
    await user.type(screen.getByLabelText('Repite la contraseña'), 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Crear empresa y entrar' }));
    expect(await screen.findByText(/Token de configuración incorrecto/)).toBeInTheDocument();
    await user.clear(token);
    await user.type(token, 'crm_setup_abc');
    await user.click(screen.getByRole('button', { name: 'Crear empresa y entrar' }));
    expect(await screen.findByRole('heading', { name: 'Hola, Ana' })).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST').map((c) => (c.body as { setup_token?: string }).setup_token)).toEqual(['crm_setup_wrong', 'crm_setup_abc']);
  });

  it('shows the CEO every section the permissions allow', async () => {
    installFakeApi({ 'GET /api/setup': ready, 'GET /api/auth/me': () => ({ status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) }) });
    renderApp('/');
    await screen.findByRole('heading', { name: 'Hola, Ana' });
    const links = sidebar()
      .getAllByRole('link')
      .map((a) => a.textContent);
    expect(links).toEqual(['Inicio', 'Leads', 'Importar leads', 'Pipeline', 'Marketing Hub', 'Automatización HSM', 'Equipo', 'Auditoría', 'General', 'Tokens de API', 'Meta']);
  });

  it('hides team and audit from a seller and refuses the page if opened directly', async () => {
    const { calls } = installFakeApi({ 'GET /api/setup': ready, 'GET /api/auth/me': () => ({ status: 200, body: sessionFor('seller', SELLER_PERMISSIONS) }) });
    renderApp('/team');
    expect(await screen.findByText('Acceso restringido')).toBeInTheDocument();
    expect(sidebar()
      .getAllByRole('link')
      .map((a) => a.textContent)).toEqual(['Inicio', 'Leads', 'Pipeline']);
    // The restricted page never asked the server for the team list.
    expect(calls.some((c) => c.path === '/api/team')).toBe(false);
  });

  it('redirects an anonymous visitor to login and back to the page they wanted', async () => {
    let signedIn = false;
    const ceo = sessionFor('ceo', CEO_PERMISSIONS);
    const { calls } = installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': () => (signedIn ? { status: 200, body: ceo } : anonymous({} as never)),
      'POST /api/auth/login': (req) => {
        const body = req.body as { email: string; password: string };
        if (body.password !== 'right-password') return { status: 401, body: { error: { code: 'invalid_credentials', message: 'bad' } } };
        signedIn = true;
        return { status: 200, body: ceo };
      },
      'GET /api/audit': () => ({ status: 200, body: { items: [], next_cursor: null } }),
    });
    const { router } = renderApp('/audit?action=user.create');
    const user = userEvent.setup({ delay: null });
    await screen.findByRole('heading', { name: 'Inicia sesión' });
    expect(router.state.location.pathname).toBe('/login');

    await user.type(screen.getByLabelText('Correo electrónico'), 'ceo@acme.test');
    await user.type(screen.getByLabelText('Contraseña'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Entrar' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Correo o contraseña incorrectos, o el usuario está desactivado.');

    await user.clear(screen.getByLabelText('Contraseña'));
    await user.type(screen.getByLabelText('Contraseña'), 'right-password');
    await user.click(screen.getByRole('button', { name: 'Entrar' }));
    expect(await screen.findByRole('heading', { name: 'Auditoría' })).toBeInTheDocument();
    expect(router.state.location.search).toBe('?action=user.create');
    await waitFor(() => expect(calls.some((c) => c.path === '/api/audit' && c.query.get('action') === 'user.create')).toBe(true));
  });

  it('logs out with the CSRF token and returns to the login page', async () => {
    let signedIn = true;
    const { calls } = installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': () => (signedIn ? { status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) } : anonymous({} as never)),
      'POST /api/auth/logout': () => {
        signedIn = false;
        return { status: 204 };
      },
    });
    const { router } = renderApp('/');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: /Ana ceo/ }));
    await user.click(screen.getByRole('menuitem', { name: 'Cerrar sesión' }));
    await screen.findByRole('heading', { name: 'Inicia sesión' });
    expect(router.state.location.pathname).toBe('/login');
    const logout = calls.find((c) => c.path === '/api/auth/logout');
    expect(logout?.headers.get('X-CSRF-Token')).toBe('csrf-ceo');
  });

  it('switches language and remembers the choice', async () => {
    installFakeApi({ 'GET /api/setup': ready, 'GET /api/auth/me': () => ({ status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) }) });
    renderApp('/');
    const user = userEvent.setup({ delay: null });
    await screen.findByRole('heading', { name: 'Hola, Ana' });
    await user.click(screen.getAllByRole('button', { name: 'EN' })[0]!);
    expect(await screen.findByRole('heading', { name: 'Hello, Ana' })).toBeInTheDocument();
    expect(within(screen.getByRole('complementary', { name: 'Main navigation' })).getByRole('link', { name: 'Team' })).toBeInTheDocument();
    expect(localStorage.getItem('crm.lang')).toBe('en');
  });

  it('returns to login when the server ends the session mid-use (401 on a data request)', async () => {
    let alive = true;
    installFakeApi({
      'GET /api/setup': ready,
      'GET /api/auth/me': () => (alive ? { status: 200, body: sessionFor('ceo', CEO_PERMISSIONS) } : anonymous({} as never)),
      'GET /api/team': () => anonymous({} as never),
    });
    const { router } = renderApp('/');
    const user = userEvent.setup({ delay: null });
    await screen.findByRole('heading', { name: 'Hola, Ana' });
    alive = false;
    await user.click(sidebar().getByRole('link', { name: 'Equipo' }));
    await screen.findByRole('heading', { name: 'Inicia sesión' });
    expect(router.state.location.pathname).toBe('/login');
    expect(router.state.location.search).toBe('?next=%2Fteam');
  });

  it('shows a 404 page for unknown paths inside the app', async () => {
    installFakeApi({ 'GET /api/setup': ready, 'GET /api/auth/me': () => ({ status: 200, body: sessionFor('seller', SELLER_PERMISSIONS) }) });
    renderApp('/no/such/page');
    expect(await screen.findByText('Página no encontrada')).toBeInTheDocument();
  });

  it('shows an error, not an empty app, when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    renderApp('/');
    const alert = await screen.findByRole('alert', {}, { timeout: 8000 });
    expect(alert).toHaveTextContent('No hay conexión con el servidor.');
  });
});
