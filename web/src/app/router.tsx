import type { RouteObject } from 'react-router';
import { ForgotPasswordPage, LoginPage, LogoutPage, ResetPasswordPage, SetupPage } from '../features/auth';
import { ALL_BANNERS, ALL_NAV, FEATURES } from './features';
import { AppLayout } from './layout/AppLayout';
import { RequirePermission, RequireSession, SetupGate } from './gates';
import { NotFoundPage } from './NotFoundPage';
import { RouteErrorPage } from './RouteErrorPage';

export function appRoutes(): RouteObject[] {
  return [
    {
      element: <SetupGate />,
      errorElement: <RouteErrorPage />,
      children: [
        { path: '/setup', element: <SetupPage /> },
        { path: '/login', element: <LoginPage /> },
        { path: '/logout', element: <LogoutPage /> },
        { path: '/forgot-password', element: <ForgotPasswordPage /> },
        { path: '/reset-password', element: <ResetPasswordPage /> },
        {
          element: (
            <RequireSession>
              <AppLayout nav={ALL_NAV} banners={ALL_BANNERS} />
            </RequireSession>
          ),
          children: [
            ...FEATURES.flatMap((f) =>
              f.routes.map((r) => ({
                path: r.path,
                element: <RequirePermission permission={r.permission}>{r.element}</RequirePermission>,
              })),
            ),
            { path: '*', element: <NotFoundPage /> },
          ],
        },
      ],
    },
  ];
}
