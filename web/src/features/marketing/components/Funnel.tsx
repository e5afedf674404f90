import { useTranslation } from 'react-i18next';
import { count, percent } from '../lib/format';

export interface FunnelStepData {
  step: string;
  count: number;
}

/** Leads → opportunities → won → customers, with the conversion from each step to the next. */
export function Funnel({ steps }: { steps: readonly FunnelStepData[] }) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const top = Math.max(1, ...steps.map((s) => s.count));
  return (
    <ol className="mk-funnel" aria-label={t('funnel.title')}>
      {steps.map((s, i) => {
        const prev = i > 0 ? steps[i - 1] : undefined;
        const rate = prev && prev.count > 0 ? (s.count / prev.count) * 100 : null;
        return (
          <li key={s.step} className="mk-funnel-step" data-step={s.step} data-count={s.count}>
            <div className="mk-funnel-label">
              <span>{t(`funnel.${s.step}`, { defaultValue: s.step })}</span>
              <strong className="mono">{count(s.count, locale)}</strong>
            </div>
            <div className="mk-funnel-track">
              <div className="mk-funnel-bar" style={{ width: `${Math.max(s.count > 0 ? 2 : 0, (s.count / top) * 100)}%` }} />
            </div>
            {prev && rate !== null && <p className="mk-funnel-rate muted small">{t('funnel.rate', { rate: percent(rate, locale), from: t(`funnel.${prev.step}`, { defaultValue: prev.step }) })}</p>}
          </li>
        );
      })}
    </ol>
  );
}
