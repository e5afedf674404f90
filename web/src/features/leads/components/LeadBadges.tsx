import { useTranslation } from 'react-i18next';
import { Badge, type BadgeTone } from '../../../shared/ui';
import type { LeadStatus } from '../api/types';

const TONES: Record<LeadStatus, BadgeTone> = {
  new: 'info',
  contacted: 'accent',
  qualified: 'warning',
  unqualified: 'neutral',
  customer: 'success',
  lost: 'danger',
};

export function StatusBadge({ status }: { status: LeadStatus }) {
  const { t } = useTranslation('leads');
  return <Badge tone={TONES[status]}>{t(`status.${status}`)}</Badge>;
}

export function TagList({ tags }: { tags: string[] }) {
  return (
    <span className="lead-tags">
      {tags.map((tag) => (
        <span key={tag} className="lead-tag">
          {tag}
        </span>
      ))}
    </span>
  );
}
