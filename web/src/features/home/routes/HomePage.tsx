import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ArrowRight, Building2, ShieldCheck } from 'lucide-react';
import { Card, PageHeader, RoleBadge } from '../../../shared/ui';
import { useSession } from '../../../shared/session';
import { useVisibleNav } from '../../../shared/nav';
import { countryName } from '../../../shared/format';

export function HomePage() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const links = useVisibleNav().filter((item) => item.to !== '/');
  const firstName = session.user.name.split(/\s+/)[0] ?? session.user.name;

  return (
    <div className="page">
      <PageHeader title={t('home.greeting', { name: firstName })} description={t('home.subtitle', { tenant: session.tenant.name })} />
      {links.length > 0 && (
        <section aria-labelledby="quick-links">
          <h2 id="quick-links" className="section-title">
            {t('home.quickLinks')}
          </h2>
          <div className="quick-links">
            {links.map((item) => (
              <Link key={item.to} to={item.to} className="quick-link">
                <span className="quick-link-icon">
                  <item.icon size={20} aria-hidden />
                </span>
                <span className="quick-link-text">
                  <span className="cell-strong">{t(item.labelKey)}</span>
                  {item.descriptionKey && <span className="muted">{t(item.descriptionKey)}</span>}
                </span>
                <ArrowRight size={16} aria-hidden className="quick-link-arrow" />
              </Link>
            ))}
          </div>
        </section>
      )}
      <div className="grid-2">
        <Card
          title={
            <span className="title-with-icon">
              <Building2 size={18} aria-hidden /> {t('home.tenantCard')}
            </span>
          }
        >
          <dl className="facts">
            <div>
              <dt>{t('home.tenantName')}</dt>
              <dd>{session.tenant.name}</dd>
            </div>
            <div>
              <dt>{t('setup.currency')}</dt>
              <dd>{session.tenant.currency}</dd>
            </div>
            <div>
              <dt>{t('setup.timezone')}</dt>
              <dd>{session.tenant.timezone}</dd>
            </div>
            <div>
              <dt>{t('setup.country')}</dt>
              <dd>{countryName(session.tenant.country, i18n.resolvedLanguage ?? 'es')}</dd>
            </div>
            <div>
              <dt>{t('setup.locale')}</dt>
              <dd>{t(`language.${session.tenant.locale}`, { defaultValue: session.tenant.locale })}</dd>
            </div>
          </dl>
        </Card>
        <Card
          title={
            <span className="title-with-icon">
              <ShieldCheck size={18} aria-hidden /> {t('home.roleCard')}
            </span>
          }
        >
          <div className="role-summary">
            <RoleBadge role={session.user.role} />
            <p>{t(`roleDescriptions.${session.user.role}`)}</p>
          </div>
          <ul className="permission-list" aria-label={t('home.permissions')}>
            {session.permissions.map((p) => (
              <li key={p}>{t(`permissions.${p.replace('.', '_')}`, { defaultValue: p })}</li>
            ))}
          </ul>
        </Card>
      </div>
    </div>
  );
}
