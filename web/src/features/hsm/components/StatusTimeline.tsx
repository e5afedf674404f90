import { useTranslation } from 'react-i18next';
import { formatDateTime } from '../../../shared/format';
import { displaySteps } from '../lib/logs';
import type { Run } from '../api/types';

/** queued → sent → delivered → read (or → failed/skipped with the reason), each with its time. */
export function StatusTimeline({ run, timeZone }: { run: Pick<Run, 'timeline' | 'status' | 'reason'>; timeZone: string }) {
  const { t, i18n } = useTranslation('hsm');
  const steps = displaySteps(run);
  return (
    <ol className="hsm-steps" aria-label={t('hsm:logs.timeline')} data-testid="run-timeline">
      {steps.map((s, i) => (
        <li key={`${s.status}-${i}`} className={`hsm-step hsm-step-${s.status}${s.done ? ' hsm-step-done' : ''}`} data-status={s.status} data-done={s.done}>
          <span className="hsm-step-dot" aria-hidden />
          <span className="hsm-step-label">{t(`hsm:runStatus.${s.status}`, { defaultValue: s.status })}</span>
          {s.at && <time className="hsm-step-at" dateTime={s.at} title={formatDateTime(s.at, i18n.language, timeZone)}>{new Intl.DateTimeFormat(i18n.language, { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone }).format(new Date(s.at))}</time>}
        </li>
      ))}
    </ol>
  );
}
