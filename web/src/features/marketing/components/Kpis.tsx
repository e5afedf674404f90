import { useTranslation } from 'react-i18next';
import { BadgeDollarSign, Coins, Handshake, Percent, Receipt, Target, Users } from 'lucide-react';
import type { MarketingStats } from '../api/marketing';
import { count, money, percent, ratio, relativeChange } from '../lib/format';
import { MarketingPerformanceCard } from './MarketingPerformanceCard';

/** The seven headline cards: leads, opportunities, revenue, spend, ROI, CPL, CPA. */
export function Kpis({ stats, previous }: { stats: MarketingStats; previous: MarketingStats | undefined }) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const cur = stats.currency;
  return (
    <div className="mk-kpis" data-testid="marketing-kpis">
      <MarketingPerformanceCard metric="leads" label={t('kpi.leads')} hint={t(`hint.leads.${stats.model}`)} icon={<Users size={16} />} value={count(stats.leads, locale)} raw={stats.leads} changeValue={stats.leads_change} />
      <MarketingPerformanceCard
        metric="opportunities"
        label={t('kpi.opportunities')}
        hint={t(`hint.opportunities.${stats.model}`)}
        icon={<Handshake size={16} />}
        value={count(stats.opportunities, locale)}
        raw={stats.opportunities}
        changeValue={stats.opportunities_change}
      />
      <MarketingPerformanceCard metric="revenue" label={t('kpi.revenue')} hint={t('hint.revenue')} icon={<BadgeDollarSign size={16} />} value={money(stats.sales_revenue, cur, locale)} raw={stats.sales_revenue} changeValue={stats.revenue_change} />
      <MarketingPerformanceCard metric="spend" label={t('kpi.spend')} hint={t('hint.spend')} icon={<Coins size={16} />} value={money(stats.marketing_spend, cur, locale)} raw={stats.marketing_spend} changeValue={stats.spend_change} better="neutral" />
      <MarketingPerformanceCard
        metric="roi"
        label={t('kpi.roi')}
        hint={t('hint.roi')}
        icon={<Percent size={16} />}
        value={percent(stats.roi_percentage, locale)}
        raw={stats.roi_percentage}
        changeValue={stats.roi_change}
        changeUnit="points"
        emptyReason={t('kpi.noSpend')}
      />
      <MarketingPerformanceCard
        metric="cpl"
        label={t('kpi.cpl')}
        hint={t('hint.cpl')}
        icon={<Target size={16} />}
        value={money(stats.cpl, cur, locale)}
        raw={stats.cpl}
        changeValue={relativeChange(stats.cpl, previous?.cpl)}
        better="down"
        emptyReason={t('kpi.noLeads')}
      />
      <MarketingPerformanceCard
        metric="cpa"
        label={t('kpi.cpa')}
        hint={t('hint.cpa')}
        icon={<Receipt size={16} />}
        value={money(stats.cpa, cur, locale)}
        raw={stats.cpa}
        changeValue={relativeChange(stats.cpa, previous?.cpa)}
        better="down"
        emptyReason={t('kpi.noCustomers')}
      />
    </div>
  );
}

/** The contract's other numbers, smaller: Meta's own lead count beside (never mixed with) the CRM's, delivery and rates. */
export function SecondaryFacts({ stats }: { stats: MarketingStats }) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const cur = stats.currency;
  const facts: [string, string, number | null | undefined][] = [
    ['meta_reported_leads', count(stats.meta_reported_leads, locale), stats.meta_reported_leads],
    ['won', count(stats.won, locale), stats.won],
    ['customers', count(stats.customers, locale), stats.customers],
    ['roas', ratio(stats.roas, locale), stats.roas],
    ['lead_to_opportunity_rate', percent(stats.lead_to_opportunity_rate, locale), stats.lead_to_opportunity_rate],
    ['opportunity_to_won_rate', percent(stats.opportunity_to_won_rate, locale), stats.opportunity_to_won_rate],
    ['impressions', count(stats.impressions, locale), stats.impressions],
    ['clicks', count(stats.clicks, locale), stats.clicks],
    ['ctr', percent(stats.ctr, locale, 2), stats.ctr],
    ['cpc', money(stats.cpc, cur, locale), stats.cpc],
    ['cpm', money(stats.cpm, cur, locale), stats.cpm],
    ['messaging_conversations_started', count(stats.messaging_conversations_started, locale), stats.messaging_conversations_started],
  ];
  return (
    <dl className="mk-facts" data-testid="marketing-facts">
      {facts.map(([key, text, raw]) => (
        <div key={key} className="mk-fact" data-metric={key} data-value={raw ?? ''} title={t(`hint.${key}`)}>
          <dt>{t(`facts.${key}`)}</dt>
          <dd className="mono">{text}</dd>
        </div>
      ))}
    </dl>
  );
}
