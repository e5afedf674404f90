import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { LogOut, Monitor, MonitorSmartphone, Smartphone, Tablet } from 'lucide-react';
import type { SessionItem } from '../../../api/types';
import { Badge, Button, Card, Dialog, ErrorState, InlineError, LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { formatDateTime, formatRelative } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import { describeDevice, parseUserAgent } from '../lib/userAgent';
import { useRevokeOtherSessions, useRevokeSession, useSessions } from '../api/account';

function DeviceIcon({ ua }: { ua: string | null | undefined }) {
  const { kind } = parseUserAgent(ua);
  const Icon = kind === 'phone' ? Smartphone : kind === 'tablet' ? Tablet : Monitor;
  return (
    <span className="session-icon" aria-hidden>
      <Icon size={20} />
    </span>
  );
}

/** The caller's live sessions, with sign-out for each other one and for all of them. */
export function SessionsCard() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const toast = useToast();
  const sessions = useSessions();
  const revoke = useRevokeSession();
  const revokeOthers = useRevokeOtherSessions();
  const [confirmOthers, setConfirmOthers] = useState(false);
  const locale = i18n.resolvedLanguage ?? 'es';
  const tz = session.tenant.timezone;

  const others = sessions.data?.filter((s) => !s.current).length ?? 0;
  // This device first, then the others as the server orders them (most recent first).
  const sorted = [...(sessions.data ?? [])].sort((a, b) => Number(b.current) - Number(a.current));

  const signOut = (s: SessionItem) => {
    const device = describeDevice(t, s.user_agent);
    revoke.mutate(s.id, {
      onSuccess: () => toast.success(t('account.signedOutOne', { device })),
      onError: (err) => toast.error(errorMessage(t, err)),
    });
  };

  const closeConfirm = () => {
    setConfirmOthers(false);
    revokeOthers.reset();
  };
  const signOutOthers = () => {
    revokeOthers.mutate(undefined, {
      onSuccess: (count) => {
        toast.success(count === 0 ? t('account.noneSignedOut') : t('account.signedOutOthers', { count }));
        setConfirmOthers(false);
      },
    });
  };

  return (
    <Card
      title={
        <span className="title-with-icon">
          <MonitorSmartphone size={18} aria-hidden /> {t('account.sessionsTitle')}
        </span>
      }
    >
      <p className="muted">{t('account.sessionsIntro')}</p>
      {sessions.isPending ? (
        <LoadingState />
      ) : sessions.isError ? (
        <ErrorState error={sessions.error} onRetry={() => void sessions.refetch()} />
      ) : (
        <>
          <ul className="session-list" aria-label={t('account.sessionsTitle')}>
            {sorted.map((s) => {
              const device = describeDevice(t, s.user_agent);
              const ip = s.ip ? t('account.ip', { ip: s.ip }) : t('account.ipUnknown');
              return (
                <li key={s.id} className={`session-item${s.current ? ' session-current' : ''}`} data-testid="session">
                  <DeviceIcon ua={s.user_agent} />
                  <div className="session-main">
                    <div className="session-device">
                      <span className="cell-strong" title={s.user_agent ?? undefined}>
                        {device}
                      </span>
                      {s.current && <Badge tone="success">{t('account.thisSession')}</Badge>}
                    </div>
                    <div className="session-meta">
                      <span>{ip}</span>
                      {s.current ? (
                        <span>{t('account.activeNow')}</span>
                      ) : (
                        <span title={formatDateTime(s.last_seen_at, locale, tz)}>{t('account.lastSeen', { when: formatRelative(s.last_seen_at, locale) })}</span>
                      )}
                      <span>{t('account.signedInAt', { date: formatDateTime(s.created_at, locale, tz) })}</span>
                    </div>
                  </div>
                  {!s.current && (
                    <Button
                      size="sm"
                      variant="ghost"
                      className="session-action"
                      icon={<LogOut size={15} aria-hidden />}
                      disabled={revoke.isPending && revoke.variables === s.id}
                      onClick={() => signOut(s)}
                      aria-label={t('account.signOutFor', { device, ip })}
                    >
                      {t('account.signOut')}
                    </Button>
                  )}
                </li>
              );
            })}
          </ul>
          <div className="session-footer">
            {others === 0 ? (
              <p className="muted small">{t('account.onlyThisSession')}</p>
            ) : (
              <Button className="btn-wrap" icon={<LogOut size={16} aria-hidden />} onClick={() => setConfirmOthers(true)}>
                {t('account.signOutOthers')}
              </Button>
            )}
          </div>
        </>
      )}
      <Dialog open={confirmOthers} title={t('account.signOutOthers')} onClose={closeConfirm}>
        <p>{t('account.signOutOthersConfirm', { count: others })}</p>
        <InlineError error={revokeOthers.error} />
        <div className="dialog-actions">
          <Button onClick={closeConfirm}>{t('common.cancel')}</Button>
          <Button variant="danger" loading={revokeOthers.isPending} icon={<LogOut size={16} aria-hidden />} onClick={signOutOthers}>
            {t('account.signOut')}
          </Button>
        </div>
      </Dialog>
    </Card>
  );
}
