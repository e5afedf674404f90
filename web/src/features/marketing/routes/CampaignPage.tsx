import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { ArrowLeft } from 'lucide-react';
import { Badge, Card, ErrorState, LoadingState } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { type AdStat, type CampaignDetail, useCampaign, useCampaignInsights } from '../api/marketing';
import { statusTone } from '../components/CampaignsTable';
import { MarketingPerformanceCard } from '../components/MarketingPerformanceCard';
import { ModelSwitch, RangePicker } from '../components/RangePicker';
import { SpendRevenueChart } from '../components/SpendRevenueChart';
import { Warnings } from '../components/Warnings';
import { count, money, percent } from '../lib/format';
import { filterSearch, readFilters, writeFilters, type HubFilters } from '../lib/range';
import '../i18n';
import '../marketing.css';

/** Drill-down into one campaign: its figures for the period, the daily chart, its ads with their creatives, and status changes. */
export default function CampaignPage() {
  const { t, i18n } = useTranslation('marketing');
  const { id = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const detail = useCampaign(id, filters);
  const insights = useCampaignInsights(id, filters);
  const setFilters = (f: HubFilters) => setParams(writeFilters(params, f));
  const back = `/crm/marketing?${filterSearch(filters)}`;

  return (
    <div className="page page-wide mk-page" data-testid="marketing-campaign">
      <Link to={back} className="back-link">
        <ArrowLeft size={16} aria-hidden /> {t('campaign.back')}
      </Link>
      {detail.isPending ? (
        <LoadingState />
      ) : detail.isError ? (
        <ErrorState error={detail.error} onRetry={() => void detail.refetch()} />
      ) : (
        <>
          <header className="page-header">
            <div>
              <h1 className="page-title">{detail.data.campaign.id === 'unknown' ? t('campaigns.unknown') : detail.data.campaign.name}</h1>
              <p className="page-description mk-campaign-sub">
                <Badge tone={statusTone(detail.data.campaign.status)}>{t(`status.${detail.data.campaign.status}`, { defaultValue: detail.data.campaign.status })}</Badge>
                {detail.data.campaign.objective && <span>{t(`objective.${detail.data.campaign.objective}`, { defaultValue: detail.data.campaign.objective })}</span>}
                <span className="mono small muted">{detail.data.campaign.id}</span>
                {detail.data.campaign.ad_account_id && <span className="mono small muted">{detail.data.campaign.ad_account_id}</span>}
              </p>
            </div>
          </header>
          <div className="mk-filters">
            <RangePicker value={filters} onChange={setFilters} />
            <ModelSwitch value={filters.model} onChange={(model) => setFilters({ ...filters, model })} />
          </div>
          <p className="muted small mk-period">
            {t('period.current', { since: detail.data.period.since, until: detail.data.period.until })} · {detail.data.currency}
          </p>
          <Warnings warnings={detail.data.warnings} />
          {detail.data.campaign.id === 'unknown' && <p className="notice">{t('campaigns.unknownHint')}</p>}
          <CampaignKpis d={detail.data} />
          <Card title={t('campaign.daily')}>
            {insights.isPending ? (
              <LoadingState />
            ) : insights.isError ? (
              <ErrorState error={insights.error} onRetry={() => void insights.refetch()} />
            ) : (
              <SpendRevenueChart points={insights.data.items} currency={insights.data.currency} since={insights.data.period.since} until={insights.data.period.until} showLeads />
            )}
          </Card>
          <Card title={t('campaign.ads', { count: detail.data.ads.length })}>
            <AdsTable ads={detail.data.ads} currency={detail.data.currency} />
          </Card>
          {detail.data.status_history.length > 0 && (
            <Card title={t('campaign.history')}>
              <ol className="mk-history">
                {detail.data.status_history.map((h, i) => (
                  <li key={`${h.observed_at}-${i}`}>
                    <time dateTime={h.observed_at}>{formatDateTime(h.observed_at, i18n.language)}</time>{' '}
                    {h.from_status ? `${t(`status.${h.from_status}`, { defaultValue: h.from_status })} → ` : ''}
                    <strong>{t(`status.${h.to_status}`, { defaultValue: h.to_status })}</strong>
                  </li>
                ))}
              </ol>
            </Card>
          )}
        </>
      )}
    </div>
  );
}

function CampaignKpis({ d }: { d: CampaignDetail }) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const c = d.campaign;
  const cur = d.currency;
  return (
    <div className="mk-kpis" data-testid="campaign-kpis">
      <MarketingPerformanceCard noChange metric="spend" label={t('kpi.spend')} hint={t('hint.campaignSpend')} value={money(c.spend, cur, locale)} raw={c.spend} />
      <MarketingPerformanceCard noChange metric="leads" label={t('kpi.leads')} hint={t('hint.campaignLeads')} value={count(c.leads, locale)} raw={c.leads} />
      <MarketingPerformanceCard noChange metric="meta_reported_leads" label={t('facts.meta_reported_leads')} hint={t('hint.meta_reported_leads')} value={count(c.meta_reported_leads, locale)} raw={c.meta_reported_leads} />
      <MarketingPerformanceCard noChange metric="cpl" label={t('kpi.cpl')} hint={t('hint.cpl')} value={money(c.cpl, cur, locale)} raw={c.cpl} emptyReason={t('kpi.noLeads')} />
      <MarketingPerformanceCard noChange metric="opportunities" label={t('kpi.opportunities')} hint={t(`hint.opportunities.${d.model}`)} value={count(c.opportunities, locale)} raw={c.opportunities} />
      <MarketingPerformanceCard noChange metric="revenue" label={t('kpi.revenue')} hint={t('hint.revenue')} value={money(c.revenue, cur, locale)} raw={c.revenue} />
      <MarketingPerformanceCard noChange metric="roi" label={t('kpi.roi')} hint={t('hint.roi')} value={percent(c.roi, locale)} raw={c.roi} emptyReason={t('kpi.noSpend')} />
      <MarketingPerformanceCard noChange metric="cpa" label={t('kpi.cpa')} hint={t('hint.cpa')} value={money(c.cpa, cur, locale)} raw={c.cpa} emptyReason={t('kpi.noCustomers')} />
      <MarketingPerformanceCard noChange metric="impressions" label={t('facts.impressions')} hint={t('hint.impressions')} value={count(c.impressions, locale)} raw={c.impressions} />
      <MarketingPerformanceCard noChange metric="ctr" label={t('facts.ctr')} hint={t('hint.ctr')} value={percent(c.ctr, locale, 2)} raw={c.ctr} />
    </div>
  );
}

function AdsTable({ ads, currency }: { ads: readonly AdStat[]; currency: string }) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  if (ads.length === 0) return <p className="muted">{t('campaign.noAds')}</p>;
  return (
    <div className="table-wrap">
      <table className="table mk-ads">
        <thead>
          <tr>
            <th scope="col">{t('ads.ad')}</th>
            <th scope="col">{t('ads.creative')}</th>
            <th scope="col" className="mk-num">
              {t('columns.spend')}
            </th>
            <th scope="col" className="mk-num">
              {t('columns.leads')}
            </th>
            <th scope="col" className="mk-num">
              {t('columns.meta_reported_leads')}
            </th>
            <th scope="col" className="mk-num">
              {t('columns.cpl')}
            </th>
            <th scope="col" className="mk-num">
              {t('facts.impressions')}
            </th>
            <th scope="col" className="mk-num">
              {t('facts.clicks')}
            </th>
            <th scope="col" className="mk-num">
              {t('facts.ctr')}
            </th>
          </tr>
        </thead>
        <tbody>
          {ads.map((a) => (
            <tr key={a.id} data-ad={a.id}>
              <td>
                <strong>{a.name}</strong>
                <div>
                  <Badge tone={statusTone(a.status)}>{t(`status.${a.status}`, { defaultValue: a.status })}</Badge> <span className="mono small muted">{a.id}</span>
                </div>
              </td>
              <td className="mk-creative">
                {a.creative_title || a.creative_body ? (
                  <>
                    {a.creative_title && <strong data-testid="creative-title">{a.creative_title}</strong>}
                    {a.creative_body && <p className="small">{a.creative_body}</p>}
                  </>
                ) : (
                  <span className="muted">{t('ads.noCreative')}</span>
                )}
              </td>
              <td className="mk-num mono" data-col="spend">
                {money(a.marketing_spend, currency, locale)}
              </td>
              <td className="mk-num mono" data-col="leads">
                {count(a.leads, locale)}
              </td>
              <td className="mk-num mono">{count(a.meta_reported_leads, locale)}</td>
              <td className="mk-num mono">{money(a.cpl, currency, locale)}</td>
              <td className="mk-num mono">{count(a.impressions, locale)}</td>
              <td className="mk-num mono">{count(a.clicks, locale)}</td>
              <td className="mk-num mono">{percent(a.ctr, locale, 2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
