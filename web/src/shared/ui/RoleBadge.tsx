import { useTranslation } from 'react-i18next';
import type { Role } from '../../api/types';
import { Badge, type BadgeTone } from './Badge';

export function roleTone(role: Role): BadgeTone {
  switch (role) {
    case 'ceo':
      return 'accent';
    case 'admin':
      return 'info';
    case 'marketing':
      return 'warning';
    case 'seller':
      return 'success';
  }
}

export function RoleBadge({ role }: { role: Role }) {
  const { t } = useTranslation();
  return <Badge tone={roleTone(role)}>{t(`roles.${role}`)}</Badge>;
}
