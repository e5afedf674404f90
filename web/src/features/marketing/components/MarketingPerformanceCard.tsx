import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ArrowDownRight, ArrowUpRight, Info, Minus } from 'lucide-react';
import { change, changeTone } from '../lib/format';

export interface MarketingPerformanceCardProps {
  /** Stable id (`leads`, `spend`, ...): the card's `data-metric`, used by tests and docs. */
  metric: string;
  label: string;
  /** The formatted value (already through Intl). */
  value: string;
  /** The raw API number behind `value` (null when undefined by the contract). */
  raw: number | null | undefined;
  /** Change against the previous period; null/undefined when the previous value is 0 or unknown. */
  changeValue?: number | null | undefined;
  /** `points` for ROI (percentage points), else a relative change in percent. */
  changeUnit?: 'percent' | 'points';
  /** Which direction is good news: costs are better when they go down. */
  better?: 'up' | 'down' | 'neutral';
  /** What the number means (from the metrics contract), shown as a tooltip. */
  hint: string;
  /** Why the value is undefined (e.g. "no spend"), shown instead of a bare dash. */
  emptyReason?: string;
  icon?: ReactNode;
  /** Hide the change line (e.g. when there is no comparison). */
  noChange?: boolean;
}

/** One headline number of the Marketing Hub with its change against the previous period. */
export function MarketingPerformanceCard({
  metric,
  label,
  value,
  raw,
  changeValue,
  changeUnit = 'percent',
  better = 'up',
  hint,
  emptyReason,
  icon,
  noChange,
}: MarketingPerformanceCardProps) {
  const { t, i18n } = useTranslation('marketing');
  const tone = changeTone(changeValue, better);
  const Arrow = tone === 'none' || !changeValue ? Minus : changeValue > 0 ? ArrowUpRight : ArrowDownRight;
  const undefinedValue = raw === null || raw === undefined;
  return (
    <article className="mk-kpi" data-metric={metric} data-value={undefinedValue ? '' : String(raw)} aria-label={label}>
      <header className="mk-kpi-head">
        {icon && <span className="mk-kpi-icon">{icon}</span>}
        <h3 className="mk-kpi-label">{label}</h3>
        <span className="mk-help" title={hint} aria-label={hint} role="img">
          <Info size={14} aria-hidden />
        </span>
      </header>
      <p className="mk-kpi-value" data-testid={`kpi-${metric}`} title={value}>
        {value}
      </p>
      {undefinedValue && emptyReason && <p className="mk-kpi-note muted small">{emptyReason}</p>}
      {!noChange && (
        <p className={`mk-kpi-change mk-tone-${tone}`} data-change={changeValue ?? ''}>
          <Arrow size={14} aria-hidden />
          {tone === 'none' ? (
            <span className="muted">{t('kpi.noPrevious')}</span>
          ) : (
            <>
              <span className="mk-kpi-delta">{change(changeValue, i18n.language, changeUnit)}</span>
              <span className="muted">{t('kpi.vsPrevious')}</span>
            </>
          )}
        </p>
      )}
    </article>
  );
}
