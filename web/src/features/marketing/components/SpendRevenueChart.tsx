import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { compactMoney, count, money } from '../lib/format';
import { bucketFor, groupSeries, periodDays, type Point } from '../lib/series';

const SPEND = '#f97316';
const REVENUE = '#16a34a';
const LEADS = '#4f46e5';

function dayLabel(day: string, locale: string, bucket: 'day' | 'week' | 'month'): string {
  const d = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return day;
  const opts: Intl.DateTimeFormatOptions = bucket === 'month' ? { month: 'short', year: '2-digit', timeZone: 'UTC' } : { day: 'numeric', month: 'short', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(locale, opts).format(d);
}

/**
 * Spend (bars) against revenue (line) over the period, in the reporting
 * currency; CRM leads on a second axis when `showLeads`. Long periods are
 * grouped by week or month.
 */
export function SpendRevenueChart({
  points,
  currency,
  since,
  until,
  showLeads = false,
  height = 280,
}: {
  points: readonly Point[];
  currency: string;
  since: string;
  until: string;
  showLeads?: boolean;
  height?: number;
}) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const bucket = bucketFor(periodDays(since, until));
  const data = useMemo(() => groupSeries(points, bucket, 2), [points, bucket]);
  const totals = useMemo(() => data.reduce((a, p) => ({ spend: a.spend + p.spend, revenue: a.revenue + p.revenue }), { spend: 0, revenue: 0 }), [data]);
  const label = t('chart.summary', { spend: money(totals.spend, currency, locale), revenue: money(totals.revenue, currency, locale), bucket: t(`chart.bucket.${bucket}`) });

  if (data.length === 0) {
    return <p className="mk-chart-empty muted">{t('chart.empty')}</p>;
  }
  return (
    <figure className="mk-chart" aria-label={label} data-bucket={bucket}>
      <figcaption className="sr-only">{label}</figcaption>
      <ResponsiveContainer width="100%" height={height}>
        <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e4e7ee" />
          <XAxis dataKey="date" tickFormatter={(d: string) => dayLabel(d, locale, bucket)} tick={{ fontSize: 12 }} minTickGap={24} />
          <YAxis yAxisId="money" tickFormatter={(v: number) => compactMoney(v, currency, locale)} tick={{ fontSize: 12 }} width={72} />
          {showLeads && <YAxis yAxisId="leads" orientation="right" allowDecimals={false} tick={{ fontSize: 12 }} width={40} />}
          <Tooltip
            labelFormatter={(d) => (typeof d === 'string' ? `${t(`chart.bucket.${bucket}`)} ${dayLabel(d, locale, bucket)}` : d)}
            formatter={(v, name) => {
              const n = typeof v === 'number' ? v : Number(v);
              return name === t('chart.leads') ? count(n, locale) : money(n, currency, locale);
            }}
          />
          <Legend />
          <Bar yAxisId="money" dataKey="spend" name={t('chart.spend')} fill={SPEND} radius={[3, 3, 0, 0]} maxBarSize={28} isAnimationActive={false} />
          <Line yAxisId="money" dataKey="revenue" name={t('chart.revenue')} stroke={REVENUE} strokeWidth={2} dot={false} type="monotone" isAnimationActive={false} />
          {showLeads && <Line yAxisId="leads" dataKey="leads" name={t('chart.leads')} stroke={LEADS} strokeWidth={1.5} dot={false} strokeDasharray="4 3" isAnimationActive={false} />}
        </ComposedChart>
      </ResponsiveContainer>
    </figure>
  );
}
