import { useTranslation } from 'react-i18next';
import { PageHeader } from '../../../shared/ui';
import { ChangePasswordCard } from '../components/ChangePasswordCard';
import { SessionsCard } from '../components/SessionsCard';
import '../account.css';

/** Every signed-in user's own account: password and sessions. */
export function AccountPage() {
  const { t } = useTranslation();
  return (
    <div className="page">
      <PageHeader title={t('account.title')} description={t('account.description')} />
      <div className="account-grid">
        <ChangePasswordCard />
        <SessionsCard />
      </div>
    </div>
  );
}
