import { useTranslation } from 'react-i18next';
import { ExternalLink, Megaphone } from 'lucide-react';
import { Badge, Card } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import type { Lead, Touch } from '../api/types';

export type AttributionKind = 'lead_ads' | 'ctwa' | 'utm' | 'other';

/** Which kind of attribution a lead (or touch) has: Lead Ads, Click-to-WhatsApp, UTM or other. */
export function attributionKind(a: { channel: string; meta_lead_id?: string | null; ctwa_clid?: string | null; utm_source?: string | null; utm_campaign?: string | null; fbclid?: string | null }): AttributionKind {
  if (a.channel === 'lead_form' || a.meta_lead_id) return 'lead_ads';
  if (a.channel === 'click_to_whatsapp' || a.ctwa_clid) return 'ctwa';
  if (a.utm_source || a.utm_campaign || a.fbclid || a.channel === 'web') return 'utm';
  return 'other';
}

/** Only http(s) links are shown as links (the ad's source URL comes from outside). */
export function safeUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : null;
  } catch {
    return null;
  }
}

function Row({ label, value, mono, name }: { label: string; value: string | null | undefined; mono?: boolean; name?: string | null }) {
  if (!value) return null;
  return (
    <>
      <dt>{label}</dt>
      {name ? (
        <dd>
          {name} <span className="mono small muted">{value}</span>
        </dd>
      ) : (
        <dd className={mono ? 'mono' : undefined}>{value}</dd>
      )}
    </>
  );
}

/** Names of the lead's campaign, ad set and ad, as last synced from Meta. */
export interface AdNames {
  campaign?: string | null;
  adset?: string | null;
  ad?: string | null;
}

function str(details: unknown, key: string): string | null {
  if (typeof details !== 'object' || details === null) return null;
  const v = (details as Record<string, unknown>)[key];
  return typeof v === 'string' && v ? v : null;
}

function TouchLine({ touch, locale, timeZone }: { touch: Touch; locale: string; timeZone: string }) {
  const { t } = useTranslation('leads');
  const kind = attributionKind({ ...touch, utm_source: str(touch.details, 'utm_source'), utm_campaign: str(touch.details, 'utm_campaign') });
  const headline = str(touch.details, 'meta_ad_headline');
  return (
    <li className="touch">
      <span className="touch-when">{formatDateTime(touch.occurred_at, locale, timeZone)}</span>
      <Badge tone={kind === 'other' ? 'neutral' : 'info'}>{t(`ad.kind.${kind}`)}</Badge>
      <span className="muted">{t(`channel.${touch.channel}`)}</span>
      {touch.meta_ad_id && <span className="mono small">{t('leads:ad.ad')}: {touch.meta_ad_id}</span>}
      {headline && <span className="touch-headline">“{headline}”</span>}
      {str(touch.details, 'utm_campaign') && <span className="mono small">utm_campaign={str(touch.details, 'utm_campaign')}</span>}
    </li>
  );
}

/** The lead's attribution: where it came from (first touch, permanent) and later touches. */
export function AdContextCard({ lead, touches, timeZone, names }: { lead: Lead; touches: Touch[]; timeZone: string; names?: AdNames }) {
  const { t, i18n } = useTranslation('leads');
  const kind = attributionKind(lead);
  const link = safeUrl(lead.meta_source_url);
  const first = touches.find((x) => x.is_first) ?? touches[0];
  const later = touches.filter((x) => x !== first);
  const hasAd = !!(lead.meta_campaign_id || lead.meta_ad_id || lead.meta_ad_headline || lead.ctwa_clid || lead.meta_lead_id);
  const utm = [
    ['utm_source', lead.utm_source],
    ['utm_medium', lead.utm_medium],
    ['utm_campaign', lead.utm_campaign],
    ['utm_content', lead.utm_content],
    ['utm_term', lead.utm_term],
  ].filter(([, v]) => v) as [string, string][];

  return (
    <Card
      className="ad-card"
      title={
        <span className="title-with-icon">
          <Megaphone size={18} aria-hidden /> {t('leads:ad.title')}
        </span>
      }
      actions={<Badge tone={kind === 'other' ? 'neutral' : 'accent'}>{t(`ad.kind.${kind}`)}</Badge>}
    >
      {(lead.meta_ad_headline || lead.meta_ad_body) && (
        <blockquote className="ad-creative">
          {lead.meta_ad_headline && <p className="ad-headline">{lead.meta_ad_headline}</p>}
          {lead.meta_ad_body && <p className="ad-body">{lead.meta_ad_body}</p>}
        </blockquote>
      )}
      {!hasAd && utm.length === 0 && <p className="muted">{t('leads:ad.noAttribution')}</p>}
      <dl className="facts ad-facts">
        <Row label={t('leads:ad.source')} value={t(`source.${lead.lead_source}`)} />
        <Row label={t('leads:ad.channel')} value={t(`channel.${lead.channel}`)} />
        <Row label={t('leads:ad.campaign')} value={lead.meta_campaign_id} name={names?.campaign} mono />
        <Row label={t('leads:ad.adset')} value={lead.meta_adset_id} name={names?.adset} mono />
        <Row label={t('leads:ad.ad')} value={lead.meta_ad_id} name={names?.ad} mono />
        <Row label={t('leads:ad.leadgen')} value={lead.meta_lead_id} mono />
        <Row label={t('leads:ad.form')} value={lead.meta_form_id} mono />
        {(kind === 'ctwa' || lead.ctwa_clid) && <Row label={t('leads:ad.ctwaClid')} value={lead.ctwa_clid ? t('leads:ad.present') : t('leads:ad.absent')} />}
        {utm.map(([k, v]) => (
          <Row key={k} label={k} value={v} mono />
        ))}
        <Row label="fbclid" value={lead.fbclid ? t('leads:ad.present') : null} />
      </dl>
      {link && (
        <p>
          <a href={link} target="_blank" rel="noopener noreferrer" className="ad-link">
            <ExternalLink size={14} aria-hidden /> {t('leads:ad.viewAd')}
          </a>
        </p>
      )}
      {first && (
        <div className="ad-touches">
          <h3 className="section-title">{t('leads:ad.firstTouch')}</h3>
          <ul className="touch-list">
            <TouchLine touch={first} locale={i18n.language} timeZone={timeZone} />
          </ul>
          <h3 className="section-title">{t('leads:ad.laterTouches')}</h3>
          {later.length === 0 ? (
            <p className="muted small">{t('leads:ad.noLaterTouches')}</p>
          ) : (
            <ul className="touch-list">
              {[...later].reverse().map((x) => (
                <TouchLine key={x.id} touch={x} locale={i18n.language} timeZone={timeZone} />
              ))}
            </ul>
          )}
        </div>
      )}
    </Card>
  );
}
