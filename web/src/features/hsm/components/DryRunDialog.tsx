import { useTranslation } from 'react-i18next';
import { Badge, Button, Dialog, ErrorState, LoadingState } from '../../../shared/ui';
import { formatDateTime, formatNumber } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import type { DryRun, Rule } from '../api/types';
import { ReasonBadge } from './Badges';
import { formatWhatsApp } from './WhatsAppPreview';

/** Who would receive what (rendered text), and who would be skipped and why. */
export function DryRunDialog({ rule, result, error, pending, onClose }: { rule: Rule | null; result: DryRun | undefined; error: unknown; pending: boolean; onClose: () => void }) {
  const { t, i18n } = useTranslation('hsm');
  const tz = useSession().tenant.timezone;
  const n = (v: number) => formatNumber(v, i18n.language, 0);
  return (
    <Dialog open={!!rule} title={t('hsm:dry.title', { name: rule?.name ?? '' })} description={t('hsm:dry.description')} onClose={onClose} footer={<Button onClick={onClose}>{t('hsm:dry.close')}</Button>}>
      {pending ? (
        <LoadingState />
      ) : error ? (
        <ErrorState error={error} />
      ) : result ? (
        <div className="hsm-dry" data-testid="dry-run">
          <p className="hsm-dry-summary">{t('hsm:dry.summary', { evaluated: n(result.evaluated), send: n(result.would_send), skip: n(result.would_skip) })}</p>
          {result.items.length === 0 ? (
            <p className="muted">{t('hsm:dry.empty')}</p>
          ) : (
            <ul className="hsm-dry-list">
              {result.items.map((it) => (
                <li key={it.lead_id} className={`hsm-dry-item hsm-dry-${it.outcome}`} data-testid="dry-item" data-outcome={it.outcome}>
                  <div className="hsm-dry-head">
                    <strong>{it.lead_name}</strong>{' '}
                    <Badge tone={it.outcome === 'would_send' ? 'success' : it.outcome === 'would_reschedule' ? 'info' : 'warning'}>
                      {t(it.outcome === 'would_send' ? 'hsm:dry.wouldSend' : it.outcome === 'would_reschedule' ? 'hsm:dry.wouldReschedule' : 'hsm:dry.wouldSkip')}
                    </Badge>
                    {it.reason && <ReasonBadge reason={it.reason} />}
                  </div>
                  {it.rendered && <p className="hsm-dry-text">{formatWhatsApp(it.rendered)}</p>}
                  {it.detail && <p className="muted small">{it.detail}</p>}
                  {it.next_allowed_at && <p className="muted small">{t('hsm:dry.nextAllowed', { when: formatDateTime(it.next_allowed_at, i18n.language, tz) })}</p>}
                </li>
              ))}
            </ul>
          )}
        </div>
      ) : null}
    </Dialog>
  );
}
