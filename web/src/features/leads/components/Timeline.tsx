import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Activity as ActivityIcon } from 'lucide-react';
import { Button, Card, EmptyState, ErrorState, LoadingState } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { useTimeline } from '../api/leads';
import type { Activity } from '../api/types';
import { formatMinor } from '../lib/money';

function field(p: unknown, key: string): string {
  if (typeof p !== 'object' || p === null) return '';
  const v = (p as Record<string, unknown>)[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.join(', ');
  return '';
}

function num(p: unknown, key: string): number {
  const v = typeof p === 'object' && p !== null ? (p as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' ? v : 0;
}

/** One readable line for a timeline entry. */
export function describeActivity(a: Activity, t: TFunction, locale: string): string {
  const p = a.payload;
  const tr = (ns: string, v: string) => (v ? t(`${ns}.${v}`, { defaultValue: v }) : '—');
  switch (a.kind) {
    case 'created':
      return t('leads:timeline.kinds.created', { via: tr('channel', field(p, 'via')) });
    case 'updated':
      return t('leads:timeline.kinds.updated', { fields: field(p, 'fields') });
    case 'status_changed':
      return t('leads:timeline.kinds.status_changed', { from: tr('status', field(p, 'from')), to: tr('status', field(p, 'to')) });
    case 'owner_changed':
      return t('leads:timeline.kinds.owner_changed');
    case 'note':
      return t('leads:timeline.kinds.note');
    case 'touch':
      return t('leads:timeline.kinds.touch', { channel: tr('channel', field(p, 'channel')) });
    case 'consent':
      return field(p, 'action') === 'opt_out'
        ? t('leads:timeline.kinds.consent_opt_out', { method: field(p, 'method') })
        : t('leads:timeline.kinds.consent_opt_in', { method: field(p, 'method') });
    case 'opportunity_created':
      return t('leads:timeline.kinds.opportunity_created', { name: field(p, 'name'), value: formatMinor(num(p, 'value_minor'), field(p, 'currency') || 'USD', locale) });
    case 'stage_changed':
      return t('leads:timeline.kinds.stage_changed', { name: field(p, 'name'), from: tr('stages', field(p, 'from')), to: tr('stages', field(p, 'to')) });
    case 'sale':
      return t('leads:timeline.kinds.sale', { amount: formatMinor(num(p, 'amount_minor'), field(p, 'currency') || 'USD', locale), status: tr('sales.statuses', field(p, 'status')) });
    case 'refund':
      return t('leads:timeline.kinds.refund', { amount: formatMinor(num(p, 'amount_minor'), field(p, 'currency') || 'USD', locale) });
    case 'sale_status_changed':
      return t('leads:timeline.kinds.sale_status_changed');
    case 'whatsapp_in':
      return t('leads:timeline.kinds.whatsapp_in', { body: field(p, 'body') });
    case 'whatsapp_out':
      return t('leads:timeline.kinds.whatsapp_out', { template: field(p, 'template') || '—' });
    default:
      return t('leads:timeline.kinds.other', { kind: a.kind });
  }
}

export function Timeline({ leadId, timeZone }: { leadId: string; timeZone: string }) {
  const { t, i18n } = useTranslation('leads');
  const q = useTimeline(leadId);
  const items = q.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Card
      title={
        <span className="title-with-icon">
          <ActivityIcon size={18} aria-hidden /> {t('leads:timeline.title')}
        </span>
      }
    >
      {q.isPending ? (
        <LoadingState />
      ) : q.isError ? (
        <ErrorState error={q.error} onRetry={() => void q.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState title={t('leads:timeline.empty')} />
      ) : (
        <>
          <ol className="timeline" aria-label={t('leads:timeline.title')}>
            {items.map((a) => (
              <li key={a.id} className={`timeline-item timeline-${a.kind}`}>
                <span className="timeline-dot" aria-hidden />
                <div>
                  <p className="timeline-text">{describeActivity(a, t, i18n.language)}</p>
                  {a.kind === 'note' && <p className="timeline-note">{field(a.payload, 'body')}</p>}
                  {a.kind === 'stage_changed' && field(a.payload, 'lost_reason') && (
                    <p className="muted small">{t('leads:opps.lostReason', { reason: field(a.payload, 'lost_reason') })}</p>
                  )}
                  <time className="muted small" dateTime={a.at}>
                    {formatDateTime(a.at, i18n.language, timeZone)}
                  </time>
                </div>
              </li>
            ))}
          </ol>
          {q.hasNextPage && (
            <Button size="sm" variant="ghost" loading={q.isFetchingNextPage} onClick={() => void q.fetchNextPage()}>
              {t('leads:timeline.loadMore')}
            </Button>
          )}
        </>
      )}
    </Card>
  );
}
