import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { AlertTriangle, CheckCircle2, Clock, Loader2, RefreshCw } from 'lucide-react';
import { Badge, Button, Card, InlineError, type BadgeTone } from '../../../shared/ui';
import { formatDateTime, formatRelative } from '../../../shared/format';
import type { TokenStatus } from '../../meta';
import { type SyncState, useSyncNow } from '../api/marketing';

export function syncTone(status: string): BadgeTone {
  switch (status) {
    case 'ok':
      return 'success';
    case 'running':
    case 'pending':
      return 'info';
    case 'throttled':
      return 'warning';
    case 'error':
      return 'danger';
    default:
      return 'neutral';
  }
}

function When({ iso, none }: { iso: string | null | undefined; none?: string }) {
  const { t, i18n } = useTranslation('marketing');
  if (!iso) return <span className="muted">{none ?? t('sync.never')}</span>;
  return (
    <time dateTime={iso} title={formatDateTime(iso, i18n.language)}>
      {formatRelative(iso, i18n.language)}
    </time>
  );
}

/** The sync button; refuses politely (409) when nothing is connected. */
export function SyncNowButton({ size = 'md' }: { size?: 'sm' | 'md' }) {
  const { t } = useTranslation('marketing');
  const sync = useSyncNow();
  return (
    <span className="mk-sync-now">
      <Button size={size} icon={<RefreshCw size={14} aria-hidden />} loading={sync.isPending} onClick={() => sync.mutate()} data-testid="sync-now">
        {t('sync.now')}
      </Button>
      {sync.isError && <InlineError error={sync.error} />}
      {sync.isSuccess && <span className="muted small" role="status">{t('sync.queued')}</span>}
    </span>
  );
}

/** One ad account's sync: status, last success, last error with Meta's message, next run, backfill progress. */
export function AccountSync({ s }: { s: SyncState }) {
  const { t } = useTranslation('marketing');
  const running = s.status === 'running' || s.status === 'pending';
  return (
    <li className="mk-account" data-account={s.ad_account_id} data-status={s.status}>
      <div className="mk-account-head">
        <div>
          <strong>{s.account_name ?? s.ad_account_id}</strong>
          <span className="muted small mono"> {s.ad_account_id}</span>
          <p className="muted small">
            {[s.currency, s.timezone].filter(Boolean).join(' · ')}
          </p>
        </div>
        <Badge tone={syncTone(s.status)}>
          <span data-testid="sync-status">{t(`sync.status.${s.status}`, { defaultValue: s.status })}</span>
        </Badge>
      </div>
      <dl className="mk-dl">
        <dt>
          <CheckCircle2 size={14} aria-hidden /> {t('sync.lastSuccess')}
        </dt>
        <dd>
          <When iso={s.last_success_at} />
        </dd>
        <dt>
          <Clock size={14} aria-hidden /> {t('sync.nextRun')}
        </dt>
        <dd>{running ? t('sync.runningNow') : <When iso={s.next_run_at} none={t('sync.notScheduled')} />}</dd>
      </dl>
      {!s.backfill_done && (
        <div className="mk-progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={s.progress_pct} aria-label={t('sync.backfill')}>
          <div className="mk-progress-bar" style={{ width: `${Math.min(100, Math.max(0, s.progress_pct))}%` }} />
          <span className="small">
            {running && <Loader2 size={12} className="spin" aria-hidden />} {t('sync.backfillProgress', { pct: s.progress_pct })}
          </span>
        </div>
      )}
      {s.last_error && (s.status === 'error' || s.status === 'throttled' || !s.last_success_at || (s.last_error_at ?? '') > (s.last_success_at ?? '')) && (
        <div className="mk-alert mk-alert-danger" role="alert" data-testid="sync-error">
          <AlertTriangle size={16} aria-hidden />
          <div>
            <strong>{t('sync.lastError')}</strong> {s.last_error_at && <When iso={s.last_error_at} />}
            <p className="mk-meta-message">
              {s.last_error}
              {s.last_error_code !== null && s.last_error_code !== undefined && <span className="muted"> ({t('sync.code', { code: s.last_error_code })})</span>}
            </p>
          </div>
        </div>
      )}
    </li>
  );
}

/** The connection card: the Meta connection and the sync state of each ad account, with "sync now". */
export function ConnectionCard({ token, states, canSync, canManageMeta }: { token: TokenStatus; states: readonly SyncState[]; canSync: boolean; canManageMeta: boolean }) {
  const { t } = useTranslation('marketing');
  const tone: BadgeTone = token.status === 'ok' ? 'success' : token.status === 'expiring' || token.status === 'missing_scopes' ? 'warning' : 'danger';
  return (
    <Card
      title={t('connection.title')}
      className="mk-connection"
      actions={
        <>
          <Badge tone={tone}>{t(`connection.status.${token.status}`, { defaultValue: token.status })}</Badge>
          {canSync && <SyncNowButton size="sm" />}
        </>
      }
    >
      <p className="muted small">
        {t('connection.connectedAs', { name: token.meta_user_name ?? '—' })}
        {canManageMeta && (
          <>
            {' · '}
            <Link to="/settings/meta">{t('connection.manage')}</Link>
          </>
        )}
      </p>
      {states.length === 0 ? (
        <p className="muted">{t('sync.noAccounts')}</p>
      ) : (
        <ul className="mk-accounts">
          {states.map((s) => (
            <AccountSync key={s.ad_account_id} s={s} />
          ))}
        </ul>
      )}
    </Card>
  );
}
