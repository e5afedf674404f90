import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { AlertTriangle, Info } from 'lucide-react';
import type { CurrencyAmount, Warning } from '../api/marketing';
import { money } from '../lib/format';

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The API's warnings (missing FX rates, time zones that differ) and the amounts left unconverted. */
export function Warnings({ warnings, unconverted = [], fxHref }: { warnings: readonly Warning[]; unconverted?: readonly CurrencyAmount[]; fxHref?: string }) {
  const { t, i18n } = useTranslation('marketing');
  if (warnings.length === 0 && unconverted.length === 0) return null;
  const fx = warnings.filter((w) => w.code === 'missing_fx_rate');
  const other = warnings.filter((w) => w.code !== 'missing_fx_rate');
  return (
    <div className="mk-warnings" data-testid="marketing-warnings">
      {fx.map((w, i) => {
        const d = w.details as Record<string, unknown>;
        const dates = Array.isArray(d.dates) ? (d.dates as unknown[]).map(str).filter(Boolean) : [];
        const first = dates[0] ?? '';
        const last = dates[dates.length - 1] ?? '';
        return (
          <div key={`fx-${i}`} className="mk-alert mk-alert-warning" role="alert" data-code={w.code}>
            <AlertTriangle size={16} aria-hidden />
            <div>
              <strong>{t('warnings.missingFx', { from: str(d.from), to: str(d.to), count: dates.length })}</strong>
              {dates.length > 0 && <span className="muted"> {first === last ? first : t('warnings.between', { first, last })}</span>}
              <p>
                {t('warnings.missingFxHint')} {fxHref && <Link to={fxHref}>{t('warnings.addRates')}</Link>}
              </p>
            </div>
          </div>
        );
      })}
      {unconverted.length > 0 && (
        <div className="mk-alert mk-alert-warning" data-testid="unconverted">
          <AlertTriangle size={16} aria-hidden />
          <div>
            {t('warnings.unconverted')}{' '}
            {unconverted.map((u) => (
              <strong key={u.currency} className="mono mk-unconverted">
                {money(u.amount, u.currency, i18n.language)}
              </strong>
            ))}
          </div>
        </div>
      )}
      {other.map((w, i) => {
        const d = w.details as Record<string, unknown>;
        return (
          <div key={`w-${i}`} className="mk-alert mk-alert-info" data-code={w.code}>
            <Info size={16} aria-hidden />
            <div>
              {w.code === 'timezone_differs'
                ? t('warnings.timezone', { account: str(d.ad_account_id), accountTz: str(d.account_timezone), tenantTz: str(d.tenant_timezone) })
                : w.message}
            </div>
          </div>
        );
      })}
    </div>
  );
}
