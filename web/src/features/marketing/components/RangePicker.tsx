import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { CalendarRange } from 'lucide-react';
import { Button } from '../../../shared/ui';
import { isDay, MODELS, RANGES, type HubFilters, type Model, type RangeKey } from '../lib/range';

/** Period presets (7d … all) plus a custom inclusive range. */
export function RangePicker({ value, onChange }: { value: HubFilters; onChange: (f: HubFilters) => void }) {
  const { t } = useTranslation('marketing');
  const [custom, setCustom] = useState(value.range === 'custom');
  const [since, setSince] = useState(value.since ?? '');
  const [until, setUntil] = useState(value.until ?? '');
  const valid = isDay(since) && isDay(until) && since <= until;

  const pick = (range: RangeKey) => {
    if (range === 'custom') {
      setCustom(true);
      return;
    }
    setCustom(false);
    onChange({ range, model: value.model });
  };
  const apply = (e: FormEvent) => {
    e.preventDefault();
    if (valid) onChange({ range: 'custom', since, until, model: value.model });
  };

  return (
    <div className="mk-range">
      <div className="mk-segmented" role="group" aria-label={t('range.label')}>
        {RANGES.map((r) => {
          const active = r === 'custom' ? custom || value.range === 'custom' : !custom && value.range === r;
          return (
            <button key={r} type="button" className={`mk-seg${active ? ' mk-seg-active' : ''}`} aria-pressed={active} onClick={() => pick(r)}>
              {r === 'custom' && <CalendarRange size={14} aria-hidden />}
              {t(`range.${r}`)}
            </button>
          );
        })}
      </div>
      {custom && (
        <form className="mk-custom" onSubmit={apply}>
          <label className="mk-date">
            <span>{t('range.since')}</span>
            <input type="date" className="input input-sm" value={since} max={until || undefined} onChange={(e) => setSince(e.target.value)} />
          </label>
          <label className="mk-date">
            <span>{t('range.until')}</span>
            <input type="date" className="input input-sm" value={until} min={since || undefined} onChange={(e) => setUntil(e.target.value)} />
          </label>
          <Button type="submit" size="sm" variant="primary" disabled={!valid}>
            {t('range.apply')}
          </Button>
        </form>
      )}
    </div>
  );
}

/** Cohort (leads created in the period, outcomes up to now) or activity (each event in its own period). */
export function ModelSwitch({ value, onChange }: { value: Model; onChange: (m: Model) => void }) {
  const { t } = useTranslation('marketing');
  return (
    <div className="mk-segmented" role="radiogroup" aria-label={t('model.label')}>
      {MODELS.map((m) => (
        <button
          key={m}
          type="button"
          role="radio"
          aria-checked={value === m}
          className={`mk-seg${value === m ? ' mk-seg-active' : ''}`}
          title={t(`model.${m}Hint`)}
          onClick={() => onChange(m)}
        >
          {t(`model.${m}`)}
        </button>
      ))}
    </div>
  );
}
