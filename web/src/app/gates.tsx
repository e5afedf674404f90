import type { ReactNode } from 'react';
import { Navigate, Outlet, ScrollRestoration, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import { ShieldX } from 'lucide-react';
import { EmptyState, ErrorState, LoadingState } from '../shared/ui';
import { isUserSession } from '../api/types';
import { hasPermission, SessionContext, useSession, useSessionQuery, useSetupStatus } from '../shared/session';

function FullPage({ children }: { children: ReactNode }) {
  return <div className="full-page">{children}</div>;
}

/** Sends everyone to /setup while the instance has no user yet. */
export function SetupGate() {
  const status = useSetupStatus();
  const location = useLocation();
  if (status.isPending)
    return (
      <FullPage>
        <LoadingState />
      </FullPage>
    );
  if (status.isError)
    return (
      <FullPage>
        <ErrorState error={status.error} onRetry={() => void status.refetch()} />
      </FullPage>
    );
  if (status.data.needs_setup && location.pathname !== '/setup') return <Navigate to="/setup" replace />;
  return (
    <>
      <ScrollRestoration />
      <Outlet />
    </>
  );
}

/** Only signed-in users get past; others go to /login and come back after. */
export function RequireSession({ children }: { children: ReactNode }) {
  const session = useSessionQuery();
  const location = useLocation();
  if (session.isPending)
    return (
      <FullPage>
        <LoadingState />
      </FullPage>
    );
  if (session.isError)
    return (
      <FullPage>
        <ErrorState error={session.error} onRetry={() => void session.refetch()} />
      </FullPage>
    );
  if (!isUserSession(session.data)) {
    const next = location.pathname + location.search;
    return <Navigate to={next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <SessionContext.Provider value={session.data}>{children}</SessionContext.Provider>;
}

/** A page the session lacks the permission for shows a clear refusal, not a blank page. */
export function RequirePermission({ permission, children }: { permission?: string | undefined; children: ReactNode }) {
  const { t } = useTranslation();
  const session = useSession();
  if (!hasPermission(session, permission)) {
    return <EmptyState icon={<ShieldX size={28} aria-hidden />} title={t('errors.forbiddenTitle')} description={t('errors.forbidden')} />;
  }
  return <>{children}</>;
}
