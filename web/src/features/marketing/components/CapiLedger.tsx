import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Send } from 'lucide-react';
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState, type BadgeTone } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { useCapiLedger } from '../api/marketing';

const LEDGER_STATUSES = ['queued', 'accepted', 'rejected', 'skipped'] as const;

export function ledgerTone(status: string): BadgeTone {
  switch (status) {
    case 'accepted':
    case 'sent':
      return 'success';
    case 'rejected':
      return 'danger';
    case 'queued':
    case 'retrying':
      return 'info';
    case 'skipped':
      return 'neutral';
    default:
      return 'warning';
  }
}

/** The Conversions API ledger: every funnel event sent (or not) to Meta, with Meta's answer. */
export function CapiLedger() {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const [status, setStatus] = useState('');
  const ledger = useCapiLedger(status);
  const items = ledger.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <section className="mk-section" aria-labelledby="mk-capi-title">
      <header className="mk-section-head">
        <div>
          <h2 id="mk-capi-title" className="section-title">
            {t('capi.title')}
          </h2>
          <p className="muted small">{t('capi.description')}</p>
        </div>
        <label className="mk-inline-field">
          <span>{t('capi.statusFilter')}</span>
          <select className="input select input-sm" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t('capi.all')}</option>
            {LEDGER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`capi.status.${s}`)}
              </option>
            ))}
          </select>
        </label>
      </header>
      <Card className="mk-card-flush">
        {ledger.isPending ? (
          <LoadingState />
        ) : ledger.isError ? (
          <ErrorState error={ledger.error} onRetry={() => void ledger.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState icon={<Send size={28} aria-hidden />} title={t('capi.empty')} description={t('capi.emptyHint')} />
        ) : (
          <div className="table-wrap">
            <table className="table mk-ledger">
              <thead>
                <tr>
                  <th scope="col">{t('capi.eventTime')}</th>
                  <th scope="col">{t('capi.event')}</th>
                  <th scope="col">{t('capi.stageCol')}</th>
                  <th scope="col">{t('capi.statusCol')}</th>
                  <th scope="col" style={{ textAlign: 'right' }}>
                    {t('capi.attempts')}
                  </th>
                  <th scope="col">{t('capi.message')}</th>
                  <th scope="col">{t('capi.lead')}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.id} data-status={e.status}>
                    <td className="nowrap">{formatDateTime(e.event_time, locale)}</td>
                    <td>
                      <strong>{e.event_name}</strong>
                      <div className="muted small mono mk-event-id" title={`${t('capi.eventId')}: ${e.event_id}`}>
                        {e.event_id}
                      </div>
                    </td>
                    <td>{t(`capi.stages.${e.stage}`, { defaultValue: e.stage })}</td>
                    <td>
                      <Badge tone={ledgerTone(e.status)}>{t(`capi.status.${e.status}`, { defaultValue: e.status })}</Badge>
                      {e.sent_at && (
                        <div className="muted small nowrap" title={t('capi.sentAt')}>
                          {t('capi.sentAtShort', { when: formatDateTime(e.sent_at, locale) })}
                        </div>
                      )}
                    </td>
                    <td style={{ textAlign: 'right' }} className="mono">
                      {e.attempts}
                    </td>
                    <td className={e.status === 'rejected' ? 'mk-error-text' : 'muted'}>{e.last_error ?? '—'}</td>
                    <td className="nowrap">
                      <Link to={`/crm/leads/${e.lead_id}`}>{t('capi.openLead')}</Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {ledger.hasNextPage && (
          <div className="load-more">
            <Button onClick={() => void ledger.fetchNextPage()} loading={ledger.isFetchingNextPage}>
              {t('capi.more')}
            </Button>
          </div>
        )}
      </Card>
    </section>
  );
}
