import { Fragment, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { ChevronDown, ChevronRight, ScrollText } from 'lucide-react';
import type { AuditEntry } from '../../../api/types';
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState, PageHeader } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import { dayEnd, dayStart, useAuditLog, type AuditFilters } from '../api/audit';
import { AuditFiltersBar, EMPTY_FILTERS, type AuditFilterForm } from '../components/AuditFiltersBar';

const FILTER_KEYS = Object.keys(EMPTY_FILTERS) as (keyof AuditFilterForm)[];

function formFromParams(params: URLSearchParams): AuditFilterForm {
  const form = { ...EMPTY_FILTERS };
  for (const k of FILTER_KEYS) form[k] = params.get(k) ?? '';
  return form;
}

function toQuery(form: AuditFilterForm): AuditFilters {
  const q: AuditFilters = {};
  if (form.action) q.action = form.action;
  if (form.resource_type) q.resource_type = form.resource_type;
  if (form.user_id) q.user_id = form.user_id;
  const since = form.since ? dayStart(form.since) : undefined;
  const until = form.until ? dayEnd(form.until) : undefined;
  if (since) q.since = since;
  if (until) q.until = until;
  return q;
}

export function AuditPage() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const [params, setParams] = useSearchParams();
  const form = useMemo(() => formFromParams(params), [params]);
  const query = useMemo(() => toQuery(form), [form]);
  const log = useAuditLog(query);
  const [open, setOpen] = useState<string | null>(null);
  const locale = i18n.resolvedLanguage ?? 'es';

  const apply = (f: AuditFilterForm) => {
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) if (f[k]) next.set(k, f[k]);
    setParams(next);
  };

  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];
  const nextPageError = log.isFetchNextPageError ? log.error : null;

  return (
    <div className="page">
      <PageHeader title={t('audit.title')} description={t('audit.description')} />
      <Card>
        <AuditFiltersBar value={form} onApply={apply} />
      </Card>
      <Card>
        {log.isPending ? (
          <LoadingState />
        ) : log.isError && !log.isFetchNextPageError ? (
          <ErrorState error={log.error} onRetry={() => void log.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState icon={<ScrollText size={28} aria-hidden />} title={t('audit.empty')} description={t('audit.emptyHint')} />
        ) : (
          <>
            <div className="table-wrap">
              <table className="table">
                <caption className="sr-only">{t('audit.title')}</caption>
                <thead>
                  <tr>
                    <th scope="col" style={{ width: '2rem' }} />
                    <th scope="col">{t('audit.when')}</th>
                    <th scope="col">{t('audit.actor')}</th>
                    <th scope="col">{t('audit.action')}</th>
                    <th scope="col">{t('audit.resource')}</th>
                    <th scope="col">{t('audit.ip')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row) => (
                    <Fragment key={row.id}>
                      <tr className={open === row.id ? 'row-open' : undefined}>
                        <td>
                          <button
                            type="button"
                            className="icon-btn"
                            aria-expanded={open === row.id}
                            aria-label={t('audit.details')}
                            onClick={() => setOpen(open === row.id ? null : row.id)}
                          >
                            {open === row.id ? <ChevronDown size={16} aria-hidden /> : <ChevronRight size={16} aria-hidden />}
                          </button>
                        </td>
                        <td className="nowrap">{formatDateTime(row.at, locale, session.tenant.timezone)}</td>
                        <td>
                          <Actor row={row} onFilter={(user_id) => apply({ ...form, user_id })} />
                        </td>
                        <td>
                          <Badge tone={actionTone(row.action)}>{row.action}</Badge>
                        </td>
                        <td>
                          <span className="cell-strong">{row.resource_type}</span>
                          {row.resource_id && <div className="muted mono small">{row.resource_id}</div>}
                        </td>
                        <td className="mono small">{row.ip ?? '—'}</td>
                      </tr>
                      {open === row.id && (
                        <tr className="row-details">
                          <td />
                          <td colSpan={5}>
                            <dl className="details-grid">
                              <dt>{t('audit.userAgent')}</dt>
                              <dd>{row.user_agent ?? '—'}</dd>
                              <dt>{t('audit.detailsLabel')}</dt>
                              <dd>
                                <pre className="json">{JSON.stringify(row.details ?? null, null, 2)}</pre>
                              </dd>
                            </dl>
                          </td>
                        </tr>
                      )}
                    </Fragment>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="load-more">
              {nextPageError ? (
                <ErrorState error={nextPageError} onRetry={() => void log.fetchNextPage()} />
              ) : log.hasNextPage ? (
                <Button onClick={() => void log.fetchNextPage()} loading={log.isFetchingNextPage}>
                  {t('audit.loadMore')}
                </Button>
              ) : (
                <span className="muted">{t('audit.end', { count: rows.length })}</span>
              )}
            </div>
          </>
        )}
      </Card>
    </div>
  );
}

function Actor({ row, onFilter }: { row: AuditEntry; onFilter: (userId: string) => void }) {
  const { t } = useTranslation();
  if (row.user_id) {
    return (
      <button type="button" className="link-btn" title={t('audit.filterByUser')} onClick={() => onFilter(row.user_id ?? '')}>
        {row.user_email ?? row.user_id}
      </button>
    );
  }
  if (row.token_id) return <span>{t('audit.viaToken', { id: row.token_id.slice(0, 8) })}</span>;
  return <span className="muted">{t('audit.system')}</span>;
}

function actionTone(action: string) {
  if (/(delete|revoke|disable|fail|denied)/.test(action)) return 'danger' as const;
  if (/(create|setup|enable|login)/.test(action)) return 'success' as const;
  if (/(update|change|patch)/.test(action)) return 'info' as const;
  return 'neutral' as const;
}
