import { useTranslation } from 'react-i18next';
import { Badge, type BadgeTone } from '../../../shared/ui';

const STATUS_TONE: Record<string, BadgeTone> = { APPROVED: 'success', PENDING: 'warning', IN_APPEAL: 'warning', REJECTED: 'danger', PAUSED: 'warning', DISABLED: 'danger', DELETED: 'neutral' };

export function TemplateStatusBadge({ status }: { status: string }) {
  const { t } = useTranslation('hsm');
  return <Badge tone={STATUS_TONE[status] ?? 'neutral'}>{t(`hsm:status.${status}`, { defaultValue: status })}</Badge>;
}

export function CategoryBadge({ category }: { category: string }) {
  const { t } = useTranslation('hsm');
  return <Badge tone={category === 'MARKETING' ? 'accent' : category === 'AUTHENTICATION' ? 'info' : 'neutral'}>{t(`hsm:category.${category}`, { defaultValue: category })}</Badge>;
}

const QUALITY_TONE: Record<string, BadgeTone> = { GREEN: 'success', YELLOW: 'warning', RED: 'danger' };

export function QualityBadge({ quality }: { quality: string | null | undefined }) {
  const { t } = useTranslation('hsm');
  const q = quality ?? 'UNKNOWN';
  return (
    <span className={`hsm-quality hsm-quality-${q.toLowerCase()}`}>
      <span className="hsm-quality-dot" aria-hidden />
      <Badge tone={QUALITY_TONE[q] ?? 'neutral'}>{t(`hsm:quality.${q}`, { defaultValue: q })}</Badge>
    </span>
  );
}

const RUN_TONE: Record<string, BadgeTone> = { queued: 'neutral', rescheduled: 'info', paused: 'warning', sending: 'info', sent: 'info', delivered: 'success', read: 'success', failed: 'danger', skipped: 'warning', received: 'accent' };

export function RunStatusBadge({ status }: { status: string }) {
  const { t } = useTranslation('hsm');
  return <Badge tone={RUN_TONE[status] ?? 'neutral'}>{t(`hsm:runStatus.${status}`, { defaultValue: status })}</Badge>;
}

export function ReasonBadge({ reason }: { reason: string }) {
  const { t } = useTranslation('hsm');
  return (
    <span className="hsm-reason" title={reason}>
      {t(`hsm:reason.${reason}`, { defaultValue: reason })} <code>{reason}</code>
    </span>
  );
}
