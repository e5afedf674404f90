import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AlertTriangle, Eye, Plus, RefreshCw, Search, Trash2 } from 'lucide-react';
import { Button, Card, Dialog, EmptyState, ErrorState, LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { formatDateTime, formatNumber } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import { useDeleteTemplate, useSyncTemplates, useTemplate, useTemplates, type TemplateFilters } from '../api/hsm';
import { CATEGORIES, TEMPLATE_STATUSES, type Template } from '../api/types';
import { partsOf } from '../lib/template';
import { CategoryBadge, QualityBadge, TemplateStatusBadge } from './Badges';
import { TemplateForm } from './TemplateForm';
import { WhatsAppPreview } from './WhatsAppPreview';

export function TemplatesTab() {
  const { t, i18n } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const tz = useSession().tenant.timezone;
  const [filters, setFilters] = useState<TemplateFilters>({});
  const [creating, setCreating] = useState(false);
  const [viewing, setViewing] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Template | null>(null);
  const list = useTemplates(filters);
  const all = useTemplates({});
  const sync = useSyncTemplates();
  const del = useDeleteTemplate();
  const languages = [...new Set((all.data ?? []).map((x) => x.language))].sort();
  const setF = (k: keyof TemplateFilters, v: string) => setFilters((f) => ({ ...f, [k]: v || undefined }));

  const runSync = () =>
    sync.mutate(undefined, {
      onSuccess: (r) => toast.success(t('hsm:templates.synced', r)),
      onError: (err) => toast.error(errorMessage(tc, err)),
    });

  return (
    <div className="hsm-tab" data-testid="hsm-templates">
      <div className="hsm-toolbar">
        <div className="lead-search">
          <Search size={16} aria-hidden />
          <input className="input" type="search" aria-label={t('hsm:templates.search')} placeholder={t('hsm:templates.search')} value={filters.q ?? ''} onChange={(e) => setF('q', e.target.value)} />
        </div>
        <select className="input select" aria-label={t('hsm:templates.statusCol')} value={filters.status ?? ''} onChange={(e) => setF('status', e.target.value)}>
          <option value="">{t('hsm:templates.allStatuses')}</option>
          {TEMPLATE_STATUSES.map((s) => (
            <option key={s} value={s}>{t(`hsm:status.${s}`)}</option>
          ))}
        </select>
        <select className="input select" aria-label={t('hsm:templates.categoryCol')} value={filters.category ?? ''} onChange={(e) => setF('category', e.target.value)}>
          <option value="">{t('hsm:templates.allCategories')}</option>
          {CATEGORIES.map((c) => (
            <option key={c} value={c}>{t(`hsm:category.${c}`)}</option>
          ))}
        </select>
        <select className="input select" aria-label={t('hsm:templates.language')} value={filters.language ?? ''} onChange={(e) => setF('language', e.target.value)}>
          <option value="">{t('hsm:templates.allLanguages')}</option>
          {languages.map((l) => (
            <option key={l} value={l}>{l}</option>
          ))}
        </select>
        <span className="hsm-toolbar-spacer" />
        <Button icon={<RefreshCw size={16} aria-hidden />} loading={sync.isPending} onClick={runSync} data-testid="templates-sync">
          {t('hsm:templates.sync')}
        </Button>
        <Button variant="primary" icon={<Plus size={16} aria-hidden />} onClick={() => setCreating(true)} disabled={creating} data-testid="templates-new">
          {t('hsm:templates.new')}
        </Button>
      </div>

      {creating && <TemplateForm onDone={() => setCreating(false)} onCancel={() => setCreating(false)} />}

      {list.isPending ? (
        <LoadingState />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.length === 0 ? (
        <EmptyState title={t('hsm:templates.empty')} description={t('hsm:templates.emptyHint')} />
      ) : (
        <div className="table-wrap">
          <table className="table hsm-table" aria-label={t('hsm:tabs.templates')}>
            <thead>
              <tr>
                <th>{t('hsm:templates.name')}</th>
                <th>{t('hsm:templates.language')}</th>
                <th>{t('hsm:templates.categoryCol')}</th>
                <th>{t('hsm:templates.statusCol')}</th>
                <th>{t('hsm:templates.qualityCol')}</th>
                <th>{t('hsm:templates.updated')}</th>
                <th aria-label={t('hsm:templates.actions')} />
              </tr>
            </thead>
            <tbody>
              {list.data.map((tpl) => (
                <tr key={tpl.id} data-testid="template-row" data-name={tpl.name} data-status={tpl.status}>
                  <td>
                    <strong className="mono">{tpl.name}</strong>
                    {tpl.rejected_reason && (
                      <div className="hsm-rejected small">
                        <AlertTriangle size={13} aria-hidden /> {t('hsm:templates.rejected', { reason: tpl.rejected_reason })}
                      </div>
                    )}
                    {tpl.previous_category && (
                      <div className="hsm-cat-changed small">
                        {t('hsm:templates.categoryChanged', { from: t(`hsm:category.${tpl.previous_category}`, { defaultValue: tpl.previous_category }), to: t(`hsm:category.${tpl.category}`, { defaultValue: tpl.category }) })}
                      </div>
                    )}
                  </td>
                  <td className="mono">{tpl.language}</td>
                  <td>
                    <CategoryBadge category={tpl.category} />
                  </td>
                  <td>
                    <TemplateStatusBadge status={tpl.status} />
                  </td>
                  <td>
                    <QualityBadge quality={tpl.quality} />
                  </td>
                  <td className="small muted">{formatDateTime(tpl.updated_at, i18n.language, tz)}</td>
                  <td className="hsm-actions">
                    <Button size="sm" variant="ghost" icon={<Eye size={14} aria-hidden />} onClick={() => setViewing(tpl.id)}>
                      {t('hsm:templates.preview')}
                    </Button>
                    {tpl.status !== 'DELETED' && (
                      <Button size="sm" variant="ghost" icon={<Trash2 size={14} aria-hidden />} onClick={() => setDeleting(tpl)} aria-label={`${t('hsm:templates.delete')} ${tpl.name}`}>
                        {t('hsm:templates.delete')}
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small hsm-count">{t('hsm:templates.count', { count: list.data.length, n: formatNumber(list.data.length, i18n.language) })}</p>
        </div>
      )}

      <TemplateDetailDialog id={viewing} onClose={() => setViewing(null)} />
      <Dialog
        open={!!deleting}
        title={t('hsm:templates.delete')}
        onClose={() => setDeleting(null)}
        footer={
          <>
            <Button variant="ghost" onClick={() => setDeleting(null)}>{t('hsm:form.cancel')}</Button>
            <Button
              variant="danger"
              loading={del.isPending}
              onClick={() =>
                deleting &&
                del.mutate(deleting.id, {
                  onSuccess: () => {
                    toast.success(t('hsm:templates.deleted'));
                    setDeleting(null);
                  },
                  onError: (err) => toast.error(errorMessage(tc, err)),
                })
              }
            >
              {t('hsm:templates.delete')}
            </Button>
          </>
        }
      >
        <p>{deleting && t('hsm:templates.deleteConfirm', { name: deleting.name, language: deleting.language })}</p>
      </Dialog>
    </div>
  );
}

function TemplateDetailDialog({ id, onClose }: { id: string | null; onClose: () => void }) {
  const { t, i18n } = useTranslation('hsm');
  const tz = useSession().tenant.timezone;
  const q = useTemplate(id);
  return (
    <Dialog open={!!id} title={q.data?.name ?? '…'} onClose={onClose}>
      {q.isPending ? (
        <LoadingState />
      ) : q.isError ? (
        <ErrorState error={q.error} />
      ) : (
        <div className="hsm-detail">
          <p className="hsm-badges">
            <TemplateStatusBadge status={q.data.status} /> <CategoryBadge category={q.data.category} /> <QualityBadge quality={q.data.quality} /> <span className="mono small">{q.data.language}</span>
          </p>
          {q.data.needs_marketing_consent && <p className="small muted">{t('hsm:templates.needsMarketingConsent')}</p>}
          {q.data.rejected_reason && <p className="hsm-rejected">{t('hsm:templates.rejected', { reason: q.data.rejected_reason })}</p>}
          <WhatsAppPreview parts={partsOf(q.data.components)} />
          <Card title={t('hsm:templates.history')}>
            <ol className="hsm-history">
              {q.data.history.map((h, i) => (
                <li key={i}>
                  <span className="muted small">{formatDateTime(h.at, i18n.language, tz)}</span>{' '}
                  {t('hsm:templates.historyEntry', { kind: t(`hsm:templates.historyKind.${h.kind}`, { defaultValue: h.kind }), from: h.from_value ?? '—', to: h.to_value })}{' '}
                  <span className="muted small">({t(`hsm:templates.historySource.${h.source}`, { defaultValue: h.source })})</span>
                  {h.reason && <span className="hsm-rejected small"> · {h.reason}</span>}
                </li>
              ))}
            </ol>
          </Card>
        </div>
      )}
    </Dialog>
  );
}
