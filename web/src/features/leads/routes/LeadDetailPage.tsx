import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { ArrowLeft, Briefcase, Mail, Phone, Plus, Receipt, Undo2, X } from 'lucide-react';
import { ApiError } from '../../../api/client';
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { hasPermission, useSession } from '../../../shared/session';
import { formatDateTime, formatRelative } from '../../../shared/format';
import { useAddNote, useLead, useLeadSales, useOwners, useSetConsent, useUpdateLead } from '../api/leads';
import { LEAD_STATUSES, type LeadDetail, type LeadStatus, type Sale } from '../api/types';
import { AdContextCard } from '../components/AdContextCard';
import { Timeline } from '../components/Timeline';
import { OpportunityDialog } from '../components/OpportunityDialog';
import { RefundDialog, SaleDialog } from '../components/SaleDialog';
import { LeadMessagingSlot } from '../components/LeadMessagingSlot';
import { StatusBadge } from '../components/LeadBadges';
import { formatMinor } from '../lib/money';
import '../leads.css';

export default function LeadDetailPage() {
  const { id = '' } = useParams();
  const { t } = useTranslation('leads');
  const q = useLead(id);
  if (q.isPending) return <LoadingState />;
  if (q.isError) {
    if (q.error instanceof ApiError && q.error.status === 404) {
      return (
        <div className="page">
          <EmptyState title={t('leads:detail.notFound')} action={<Link to="/crm/leads">{t('leads:detail.back')}</Link>} />
        </div>
      );
    }
    return <ErrorState error={q.error} onRetry={() => void q.refetch()} />;
  }
  return <LeadView detail={q.data} />;
}

function LeadView({ detail }: { detail: LeadDetail }) {
  const { t, i18n } = useTranslation('leads');
  const { t: tc } = useTranslation();
  const session = useSession();
  const toast = useToast();
  const lead = detail.lead;
  const tz = session.tenant.timezone;
  const canWrite = hasPermission(session, 'leads.write');
  const canPipeline = hasPermission(session, 'pipeline.write');
  const canSell = hasPermission(session, 'sales.write');
  const canSeeTeam = hasPermission(session, 'team.manage');
  const owners = useOwners(canSeeTeam && canWrite);
  const update = useUpdateLead(lead.id);
  const consent = useSetConsent(lead.id);
  const note = useAddNote(lead.id);
  const sales = useLeadSales(lead.id);
  const [noteText, setNoteText] = useState('');
  const [newTag, setNewTag] = useState('');
  const [consentMethod, setConsentMethod] = useState('');
  const [oppOpen, setOppOpen] = useState(false);
  const [saleOpen, setSaleOpen] = useState(false);
  const [refunding, setRefunding] = useState<Sale | null>(null);

  const patch = (body: Parameters<typeof update.mutate>[0], ok: string) =>
    update.mutate(body, { onSuccess: () => toast.success(ok), onError: (err) => toast.error(errorMessage(tc, err)) });

  const addTag = (e: FormEvent) => {
    e.preventDefault();
    const tag = newTag.trim();
    if (!tag || lead.tags.includes(tag)) return;
    update.mutate({ tags: [...lead.tags, tag] }, { onSuccess: () => setNewTag(''), onError: (err) => toast.error(errorMessage(tc, err)) });
  };
  const addNote = (e: FormEvent) => {
    e.preventDefault();
    if (!noteText.trim()) return;
    note.mutate(noteText.trim(), {
      onSuccess: () => {
        setNoteText('');
        toast.success(t('leads:notes.added'));
      },
      onError: (err) => toast.error(errorMessage(tc, err)),
    });
  };
  const recordConsent = (action: 'opt_in' | 'opt_out') =>
    consent.mutate(
      { action, method: consentMethod.trim() || 'manual' },
      {
        onSuccess: () => {
          setConsentMethod('');
          toast.success(t('leads:detail.consentSaved'));
        },
        onError: (err) => toast.error(errorMessage(tc, err)),
      },
    );

  const c = lead.consent;
  const refundedOf = new Map<string, number>();
  for (const s of sales.data ?? []) if (s.kind === 'refund' && s.refund_of) refundedOf.set(s.refund_of, (refundedOf.get(s.refund_of) ?? 0) + s.amount_minor);

  return (
    <div className="page lead-page">
      <Link to="/crm/leads" className="back-link">
        <ArrowLeft size={16} aria-hidden /> {t('leads:detail.back')}
      </Link>
      <header className="lead-header">
        <div>
          <h1 className="page-title">{lead.name}</h1>
          <p className="muted">
            <StatusBadge status={lead.status} /> · {t(`source.${lead.lead_source}`)} · {t('leads:detail.created', { when: formatRelative(lead.created_at, i18n.language) })}
          </p>
        </div>
        <div className="lead-header-actions">
          {canWrite ? (
            <label className="lead-inline-field">
              <span>{t('leads:detail.status')}</span>
              <select
                className="input select input-sm"
                value={lead.status}
                disabled={update.isPending}
                onChange={(e) => patch({ status: e.target.value as LeadStatus }, t('leads:detail.statusChanged', { status: t(`status.${e.target.value}`) }))}
              >
                {LEAD_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {t(`status.${s}`)}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <p className="muted small">{t('leads:detail.readOnly')}</p>
          )}
          {canWrite && canSeeTeam && (
            <label className="lead-inline-field">
              <span>{t('leads:detail.owner')}</span>
              <select className="input select input-sm" value={lead.owner_id ?? ''} disabled={update.isPending} onChange={(e) => patch({ owner_id: e.target.value || null }, t('leads:detail.ownerChanged'))}>
                <option value="">{t('leads:list.unassigned')}</option>
                {owners.data?.map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.name}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
      </header>

      <div className="lead-grid">
        <div className="lead-col">
          <Card title={t('leads:detail.contact')}>
            <dl className="facts">
              <dt>{t('leads:detail.phone')}</dt>
              <dd className="mono">{lead.phone ? <a href={`tel:${lead.phone}`}><Phone size={13} aria-hidden /> {lead.phone}</a> : t('leads:detail.none')}</dd>
              <dt>{t('leads:detail.email')}</dt>
              <dd>{lead.email ? <a href={`mailto:${lead.email}`}><Mail size={13} aria-hidden /> {lead.email}</a> : t('leads:detail.none')}</dd>
              <dt>{t('leads:detail.waId')}</dt>
              <dd className="mono">{lead.wa_id ?? t('leads:detail.none')}</dd>
              {lead.bsuid && (
                <>
                  <dt>{t('leads:detail.bsuid')}</dt>
                  <dd className="mono">{lead.bsuid}</dd>
                </>
              )}
              <dt>{t('leads:detail.owner')}</dt>
              <dd>{detail.owner_name ?? t('leads:list.unassigned')}</dd>
              <dt>{t('leads:detail.timezone')}</dt>
              <dd>{lead.timezone}</dd>
            </dl>
            <h3 className="section-title">{t('leads:detail.tags')}</h3>
            <div className="lead-tags">
              {lead.tags.length === 0 && <span className="muted small">{t('leads:detail.noTags')}</span>}
              {lead.tags.map((tag) => (
                <span key={tag} className="lead-tag">
                  {tag}
                  {canWrite && (
                    <button type="button" className="lead-tag-x" aria-label={t('leads:detail.removeTag', { tag })} onClick={() => update.mutate({ tags: lead.tags.filter((x) => x !== tag) })}>
                      <X size={12} aria-hidden />
                    </button>
                  )}
                </span>
              ))}
            </div>
            {canWrite && (
              <form className="lead-inline-form" onSubmit={addTag}>
                <input className="input input-sm" aria-label={t('leads:detail.addTag')} placeholder={t('leads:detail.addTag')} value={newTag} onChange={(e) => setNewTag(e.target.value)} />
                <Button size="sm" type="submit" icon={<Plus size={14} aria-hidden />} disabled={!newTag.trim()}>
                  {t('leads:detail.addTag')}
                </Button>
              </form>
            )}
          </Card>

          <Card title={t('leads:detail.consent')} actions={<Badge tone={c.state === 'opted_in' ? 'success' : c.state === 'opted_out' ? 'danger' : 'neutral'}>{t(`detail.consentState.${c.state}`, { defaultValue: c.state })}</Badge>}>
            {c.opt_in_at && <p className="small">{t('leads:detail.optInAt', { when: formatDateTime(c.opt_in_at, i18n.language, tz), method: c.opt_in_method ?? '—' })}</p>}
            {c.opt_out_at && <p className="small">{t('leads:detail.optOutAt', { when: formatDateTime(c.opt_out_at, i18n.language, tz), method: c.opt_out_method ?? '—' })}</p>}
            {canWrite && (
              <div className="lead-inline-form">
                <input className="input input-sm" aria-label={t('leads:detail.consentMethod')} placeholder={t('leads:detail.consentMethod')} value={consentMethod} onChange={(e) => setConsentMethod(e.target.value)} />
                <Button size="sm" onClick={() => recordConsent('opt_in')} disabled={consent.isPending}>
                  {t('leads:detail.optIn')}
                </Button>
                <Button size="sm" variant="ghost" onClick={() => recordConsent('opt_out')} disabled={consent.isPending}>
                  {t('leads:detail.optOut')}
                </Button>
              </div>
            )}
          </Card>

          <AdContextCard lead={lead} touches={detail.touches} timeZone={tz} names={detail.ad_names} />

          <LeadMessagingSlot lead={lead} timeZone={tz} />
        </div>

        <div className="lead-col">
          <Card
            title={
              <span className="title-with-icon">
                <Briefcase size={18} aria-hidden /> {t('leads:opps.title')}
              </span>
            }
            actions={
              canPipeline && (
                <Button size="sm" icon={<Plus size={14} aria-hidden />} onClick={() => setOppOpen(true)}>
                  {t('leads:opps.new')}
                </Button>
              )
            }
          >
            {detail.opportunities.length === 0 ? (
              <p className="muted">{t('leads:opps.empty')}</p>
            ) : (
              <ul className="opp-list">
                {detail.opportunities.map((o) => (
                  <li key={o.id} className="opp-item">
                    <div>
                      <strong>{o.name}</strong>
                      <div className="muted small">
                        {t(`stages.${o.stage_key}`, { defaultValue: o.stage_key })} · {o.probability}%{o.lost_reason ? ` · ${t('leads:opps.lostReason', { reason: o.lost_reason })}` : ''}
                      </div>
                    </div>
                    <div className="opp-right">
                      <span className="mono">{formatMinor(o.value_minor, o.currency, i18n.language)}</span>
                      <Badge tone={o.stage_kind === 'won' ? 'success' : o.stage_kind === 'lost' ? 'danger' : 'info'}>{t(`opps.kind.${o.stage_kind}`)}</Badge>
                    </div>
                  </li>
                ))}
              </ul>
            )}
            {detail.opportunities.length > 0 && (
              <p className="small">
                <Link to="/crm/pipeline">{t('leads:opps.openBoard')}</Link>
              </p>
            )}
          </Card>

          <Card
            title={
              <span className="title-with-icon">
                <Receipt size={18} aria-hidden /> {t('leads:sales.title')}
              </span>
            }
            actions={
              canSell && (
                <Button size="sm" variant="primary" icon={<Receipt size={14} aria-hidden />} onClick={() => setSaleOpen(true)}>
                  {t('leads:sales.record')}
                </Button>
              )
            }
          >
            {sales.isPending ? (
              <LoadingState />
            ) : sales.isError ? (
              <ErrorState error={sales.error} onRetry={() => void sales.refetch()} />
            ) : sales.data.length === 0 ? (
              <p className="muted">{t('leads:sales.empty')}</p>
            ) : (
              <ul className="opp-list" aria-label={t('leads:sales.title')}>
                {sales.data.map((s) => {
                  const left = s.amount_minor - (refundedOf.get(s.id) ?? 0);
                  return (
                    <li key={s.id} className="opp-item">
                      <div>
                        <strong>{t(`sales.kind.${s.kind}`)}</strong> <Badge tone={s.status === 'completed' ? 'success' : s.status === 'failed' ? 'danger' : 'neutral'}>{t(`sales.statuses.${s.status}`)}</Badge>
                        <div className="muted small">
                          {formatDateTime(s.paid_at ?? s.created_at, i18n.language, tz)}
                          {s.method ? ` · ${s.method}` : ''}
                          {s.invoice_ref ? ` · ${s.invoice_ref}` : ''}
                        </div>
                      </div>
                      <div className="opp-right">
                        <span className={`mono${s.kind === 'refund' ? ' text-danger' : ''}`}>
                          {s.kind === 'refund' ? '−' : ''}
                          {formatMinor(s.amount_minor, s.currency, i18n.language)}
                        </span>
                        {canSell && s.kind === 'sale' && s.status === 'completed' && left > 0 && (
                          <Button size="sm" variant="ghost" icon={<Undo2 size={14} aria-hidden />} onClick={() => setRefunding(s)}>
                            {t('leads:sales.refund')}
                          </Button>
                        )}
                      </div>
                    </li>
                  );
                })}
              </ul>
            )}
          </Card>

          {canWrite && (
            <Card title={t('leads:notes.label')}>
              <form className="form" onSubmit={addNote}>
                <textarea className="input lead-note-input" rows={3} aria-label={t('leads:notes.label')} placeholder={t('leads:notes.placeholder')} value={noteText} onChange={(e) => setNoteText(e.target.value)} />
                <div>
                  <Button type="submit" size="sm" variant="primary" loading={note.isPending} disabled={!noteText.trim()}>
                    {t('leads:notes.add')}
                  </Button>
                </div>
              </form>
            </Card>
          )}

          <Timeline leadId={lead.id} timeZone={tz} />
        </div>
      </div>

      <OpportunityDialog open={oppOpen} onClose={() => setOppOpen(false)} leadId={lead.id} defaultCurrency={session.tenant.currency} />
      <SaleDialog open={saleOpen} onClose={() => setSaleOpen(false)} leadId={lead.id} opportunities={detail.opportunities.filter((o) => o.stage_kind !== 'lost')} />
      <RefundDialog sale={refunding} onClose={() => setRefunding(null)} leadId={lead.id} />
    </div>
  );
}
