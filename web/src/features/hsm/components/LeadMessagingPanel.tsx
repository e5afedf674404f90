import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AlertTriangle, Check, CheckCheck, Clock, ExternalLink, Megaphone, MessageCircle, RotateCcw, Send, X } from 'lucide-react';
import { ApiError } from '../../../api/client';
import { Badge, Button, Card, Dialog, ErrorState, LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { hasPermission, useSession } from '../../../shared/session';
import { useLeadMessaging, useReviewHeld, useSendTemplate, useTemplates } from '../api/hsm';
import type { LeadMessaging, Message, Template } from '../api/types';
import { renderWith } from '../lib/template';
import { effectiveStatus } from '../lib/messages';
import { CategoryBadge } from './Badges';
import { WhatsAppPreview, formatWhatsApp } from './WhatsAppPreview';
import '../hsm.css';

function StatusTicks({ status }: { status: string }) {
  const { t } = useTranslation('hsm');
  const label = t(`hsm:runStatus.${status}`, { defaultValue: status });
  if (status === 'failed') return <X size={14} className="wa-tick wa-tick-failed" aria-label={label} />;
  if (status === 'read') return <CheckCheck size={14} className="wa-tick wa-tick-read" aria-label={label} />;
  if (status === 'delivered') return <CheckCheck size={14} className="wa-tick" aria-label={label} />;
  if (status === 'sent') return <Check size={14} className="wa-tick" aria-label={label} />;
  if (status === 'held') return <AlertTriangle size={13} className="wa-tick wa-tick-held" aria-label={label} />;
  if (status === 'dismissed') return <X size={14} className="wa-tick" aria-label={label} />;
  return <Clock size={12} className="wa-tick" aria-label={label} />;
}

function Referral({ referral }: { referral: Record<string, unknown> }) {
  const { t } = useTranslation('hsm');
  const s = (k: string) => (typeof referral[k] === 'string' ? (referral[k] as string) : null);
  const url = s('source_url');
  return (
    <div className="wa-referral" data-testid="message-referral">
      <span className="wa-referral-kicker">
        <Megaphone size={13} aria-hidden /> {t('hsm:lead.fromAd')}
      </span>
      {s('headline') && <strong className="wa-referral-headline">{s('headline')}</strong>}
      {s('body') && <span className="wa-referral-body">{s('body')}</span>}
      {url && /^https?:\/\//.test(url) && (
        <a href={url} target="_blank" rel="noreferrer noopener" className="small">
          <ExternalLink size={12} aria-hidden /> {t('hsm:lead.adLink')}
        </a>
      )}
    </div>
  );
}

/** A message Meta never confirmed: the person resends or dismisses it. */
function HeldReview({ m, leadId, canSend }: { m: Message; leadId: string; canSend: boolean }) {
  const { t } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const { resend, dismiss } = useReviewHeld(leadId);
  return (
    <div className="wa-msg-held" role="note" data-testid="message-held">
      <p>{t('hsm:lead.heldNote')}</p>
      {canSend && (
        <span className="wa-msg-held-actions">
          <Button
            size="sm"
            icon={<RotateCcw size={14} aria-hidden />}
            loading={resend.isPending}
            disabled={dismiss.isPending}
            onClick={() =>
              resend.mutate(m.id, {
                onSuccess: (r) => (r.message.status === 'held' ? toast.error(t('hsm:lead.heldToast')) : toast.success(t('hsm:lead.resent'))),
                onError: (err) => toast.error(errorMessage(tc, err)),
              })
            }
            data-testid="message-resend"
          >
            {t('hsm:lead.resend')}
          </Button>
          <Button
            size="sm"
            variant="ghost"
            loading={dismiss.isPending}
            disabled={resend.isPending}
            onClick={() => dismiss.mutate(m.id, { onSuccess: () => toast.success(t('hsm:lead.dismissed')), onError: (err) => toast.error(errorMessage(tc, err)) })}
            data-testid="message-dismiss"
          >
            {t('hsm:lead.dismiss')}
          </Button>
        </span>
      )}
    </div>
  );
}

function MessageBubble({ m, timeZone, leadId, canSend }: { m: Message; timeZone: string; leadId: string; canSend: boolean }) {
  const { t, i18n } = useTranslation('hsm');
  const out = m.direction === 'out';
  const status = effectiveStatus(m);
  const when = formatDateTime(m.read_at ?? m.delivered_at ?? m.sent_at ?? m.created_at, i18n.language, timeZone);
  return (
    <li className={`wa-msg ${out ? 'wa-msg-out' : 'wa-msg-in'}`} data-testid="lead-message" data-direction={m.direction} data-status={status}>
      <div className="wa-msg-bubble">
        {m.referral && <Referral referral={m.referral as Record<string, unknown>} />}
        {m.template_name && (
          <span className="wa-msg-tpl mono">
            {m.template_name}
            {m.rule_id && ` · ${t('hsm:lead.byRule')}`}
          </span>
        )}
        <p className="wa-msg-body">{formatWhatsApp(m.body)}</p>
        {status === 'held' && <HeldReview m={m} leadId={leadId} canSend={canSend} />}
        {status === 'dismissed' && (
          <p className="wa-msg-error" role="note">
            {t('hsm:lead.dismissedNote')}
          </p>
        )}
        {status === 'failed' && (m.error_code || m.error_message) && (
          <p className="wa-msg-error" role="note">
            {t('hsm:lead.error', { code: m.error_code ?? '—', message: m.error_message ?? '' })}
          </p>
        )}
        <span className="wa-msg-meta">
          <time dateTime={m.created_at}>{when}</time>
          {out && <StatusTicks status={status} />}
          {out && <span className="sr-only">{t(`hsm:runStatus.${status}`, { defaultValue: status })}</span>}
        </span>
      </div>
    </li>
  );
}

/** The lead page's WhatsApp panel: conversation with statuses, 24-hour window, consent, and "send template". */
export default function LeadMessagingPanel({ leadId, leadName, timeZone }: { leadId: string; leadName: string; timeZone: string }) {
  const { t, i18n } = useTranslation('hsm');
  const session = useSession();
  const canSend = hasPermission(session, 'messages.send');
  const q = useLeadMessaging(leadId);
  const [sending, setSending] = useState(false);

  return (
    <Card
      className="lead-messaging"
      title={
        <span className="title-with-icon">
          <MessageCircle size={18} aria-hidden /> {t('hsm:lead.title')}
        </span>
      }
      actions={
        canSend && (
          <Button size="sm" variant="primary" icon={<Send size={14} aria-hidden />} onClick={() => setSending(true)} disabled={!q.data?.reachable || q.data.consent.opted_out} data-testid="lead-send-template">
            {t('hsm:lead.send')}
          </Button>
        )
      }
    >
      <section data-slot="lead-messaging" aria-label={t('hsm:lead.title')} data-testid="lead-messaging">
        {q.isPending ? (
          <LoadingState />
        ) : q.isError ? (
          <ErrorState error={q.error} onRetry={() => void q.refetch()} />
        ) : (
          <>
            <dl className="facts hsm-lead-facts">
              <dt>{t('hsm:lead.window')}</dt>
              <dd data-testid="lead-window" data-open={q.data.window.open}>
                <Badge tone={q.data.window.open ? 'success' : 'neutral'}>
                  {q.data.window.open && q.data.window.expires_at ? t('hsm:lead.windowOpen', { when: formatDateTime(q.data.window.expires_at, i18n.language, timeZone) }) : t('hsm:lead.windowClosed')}
                </Badge>
              </dd>
              <dt>{t('hsm:lead.consent')}</dt>
              <dd data-testid="lead-consent">
                <ConsentBadges data={q.data} />
              </dd>
            </dl>
            {!q.data.reachable && <p className="hsm-warning small">{t('hsm:lead.unreachable')}</p>}
            {q.data.messages.length === 0 ? (
              <p className="muted small">{t('hsm:lead.empty')}</p>
            ) : (
              <ol className="wa-thread" aria-label={t('hsm:lead.title')}>
                {q.data.messages.map((m) => (
                  <MessageBubble key={m.id} m={m} timeZone={timeZone} leadId={leadId} canSend={canSend} />
                ))}
              </ol>
            )}
          </>
        )}
      </section>
      {sending && q.data && <SendTemplateDialog leadId={leadId} leadName={leadName} messaging={q.data} onClose={() => setSending(false)} />}
    </Card>
  );
}

function ConsentBadges({ data }: { data: LeadMessaging }) {
  const { t } = useTranslation('hsm');
  const c = data.consent;
  return (
    <span className="hsm-badges">
      {c.opted_out ? (
        <Badge tone="danger">{t('hsm:lead.consentOptedOut', { method: c.opt_out_method ?? '—' })}</Badge>
      ) : c.opted_in ? (
        <Badge tone="success">{t('hsm:lead.consentOptedIn')}</Badge>
      ) : (
        <Badge>{t('hsm:lead.consentNone')}</Badge>
      )}
      {c.marketing_only_opt_out && <Badge tone="warning">{t('hsm:lead.consentMarketingOut')}</Badge>}
      <Badge tone={c.can_receive_marketing ? 'success' : 'neutral'}>{t(c.can_receive_marketing ? 'hsm:lead.marketingOk' : 'hsm:lead.marketingNo')}</Badge>
    </span>
  );
}

/** The Idempotency-Key of a send: the dialog's id, the template and a hash of the values. */
export function idempotencyKey(dialogKey: string, templateId: string, variables: Record<string, string>): string {
  const text = JSON.stringify(Object.entries(variables).sort(([a], [b]) => a.localeCompare(b)));
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = ((h * 33) ^ text.charCodeAt(i)) >>> 0;
  return `${dialogKey}.${templateId}.${h.toString(36)}`;
}

/** A user-readable reason a send was refused. */
export function sendErrorText(t: (k: string, o?: Record<string, unknown>) => string, tc: Parameters<typeof errorMessage>[0], err: unknown): string {
  if (err instanceof ApiError) {
    const known = t(`hsm:lead.errors.${err.code}`, { message: err.message, defaultValue: '' });
    if (known) return known;
    if (/131047|window/i.test(err.message)) return t('hsm:lead.errors.outside_window');
  }
  return errorMessage(tc, err);
}

function SendTemplateDialog({ leadId, leadName, messaging, onClose }: { leadId: string; leadName: string; messaging: LeadMessaging; onClose: () => void }) {
  const { t } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const templates = useTemplates({ status: 'APPROVED' });
  const send = useSendTemplate(leadId);
  const [tplId, setTplId] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  // One key per dialog and content: tapping "send" again after a lost answer
  // (a phone network) returns the first message instead of sending twice.
  const [dialogKey] = useState(() => crypto.randomUUID());
  const tpl: Template | undefined = templates.data?.find((x) => x.id === tplId);
  const blockedMarketing = !!tpl && tpl.needs_marketing_consent && !messaging.consent.can_receive_marketing;
  const blockedOptOut = messaging.consent.opted_out;
  const missing = (tpl?.variables ?? []).some((k) => !values[k]?.trim());

  const submit = () => {
    if (!tpl) return;
    const variables: Record<string, string> = {};
    for (const k of tpl.variables) variables[k] = values[k]?.trim() ?? '';
    send.mutate(
      { templateId: tpl.id, variables, idempotencyKey: idempotencyKey(dialogKey, tpl.id, variables) },
      {
        onSuccess: (r) => {
          if (r.message.status === 'held') toast.error(t('hsm:lead.heldToast'));
          else if (r.message.status === 'failed') toast.error(t('hsm:lead.error', { code: r.message.error_code ?? '—', message: r.message.error_message ?? '' }));
          else toast.success(t('hsm:lead.sent'));
          onClose();
        },
      },
    );
  };

  return (
    <Dialog
      open
      title={t('hsm:lead.sendTitle', { name: leadName })}
      onClose={onClose}
      footer={
        <>
          <Button variant="ghost" onClick={onClose}>{t('hsm:form.cancel')}</Button>
          <Button variant="primary" icon={<Send size={16} aria-hidden />} loading={send.isPending} disabled={!tpl || missing || blockedMarketing || blockedOptOut} onClick={submit} data-testid="lead-send-submit">
            {t('hsm:lead.sendNow')}
          </Button>
        </>
      }
    >
      {templates.isPending ? (
        <LoadingState />
      ) : templates.isError ? (
        <ErrorState error={templates.error} />
      ) : templates.data.length === 0 ? (
        <p className="muted">{t('hsm:lead.noApproved')}</p>
      ) : (
        <div className="form">
          <label className="field">
            <span className="field-label">{t('hsm:lead.pick')}</span>
            <select
              className="input select"
              value={tplId}
              onChange={(e) => {
                setTplId(e.target.value);
                setValues({});
                send.reset();
              }}
              data-testid="lead-send-template-pick"
            >
              <option value="">—</option>
              {templates.data.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name} · {x.language} · {t(`hsm:category.${x.category}`, { defaultValue: x.category })}
                </option>
              ))}
            </select>
          </label>
          {tpl && (
            <p className="hsm-badges">
              <CategoryBadge category={tpl.category} />
            </p>
          )}
          {tpl?.variables.map((k) => (
            <label key={k} className="field">
              <span className="field-label">{t('hsm:lead.variable', { key: `{{${k}}}` })}</span>
              <input className="input" value={values[k] ?? ''} onChange={(e) => setValues((v) => ({ ...v, [k]: e.target.value }))} />
            </label>
          ))}
          {!messaging.window.open && <p className="muted small">{t('hsm:lead.outsideWindowNote')}</p>}
          {blockedOptOut && <p className="hsm-error" role="alert">{t('hsm:lead.optedOutBlocked')}</p>}
          {blockedMarketing && !blockedOptOut && <p className="hsm-error" role="alert">{t('hsm:lead.marketingBlocked')}</p>}
          {send.isError && (
            <p className="hsm-error" role="alert" data-testid="lead-send-error">
              {sendErrorText(t as never, tc, send.error)}
            </p>
          )}
          {tpl && <WhatsAppPreview parts={renderWith(tpl.components, values)} />}
        </div>
      )}
    </Dialog>
  );
}
