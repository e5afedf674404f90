import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Compass } from 'lucide-react';
import { EmptyState } from '../shared/ui';

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <div className="page">
      <EmptyState
        icon={<Compass size={32} aria-hidden />}
        title={t('notFound.title')}
        description={t('notFound.description')}
        action={
          <Link to="/" className="btn btn-primary">
            <span>{t('notFound.home')}</span>
          </Link>
        }
      />
    </div>
  );
}
