import { Link, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import { AlertOctagon, AlertTriangle, FlaskConical, PlugZap } from 'lucide-react';
import { useSession, useSetupStatus } from '../../../shared/session';
import { useTokenStatus } from '../api/meta';
import '../i18n';
import '../meta.css';

/**
 * The Meta connection banner, shown on every page to ceo/admin/marketing:
 * red when the token is expired or invalid, amber when it expires within 7
 * days or permissions are missing, and a "not connected" call to action only
 * on marketing pages. It links straight into reconnecting.
 */
export function MetaTokenBanner() {
  return (
    <>
      <MetaSandboxNotice />
      <MetaTokenStatusBanner />
    </>
  );
}

/** Says plainly that Meta is the local sandbox (demo and development). */
export function MetaSandboxNotice() {
  const { t } = useTranslation('meta');
  const { data } = useSetupStatus();
  if (!data?.meta_sandbox) return null;
  return (
    <div className="meta-banner meta-banner-sandbox" role="note" data-testid="meta-sandbox-banner">
      <FlaskConical size={18} aria-hidden />
      <span className="meta-banner-text">{t('banner.sandbox')}</span>
    </div>
  );
}

function MetaTokenStatusBanner() {
  const { t } = useTranslation('meta');
  const session = useSession();
  const location = useLocation();
  const canSee = session.permissions.includes('marketing.read');
  const canManage = session.permissions.includes('meta.manage');
  const { data } = useTokenStatus(canSee);
  if (!canSee || !data) return null;
  const onMarketing = location.pathname.startsWith('/crm/marketing');
  const reconnectTo = '/settings/meta?reconnect=1';

  let tone: 'danger' | 'warning' | 'info' | null = null;
  let text = '';
  let action = t('banner.reconnect');
  switch (data.status) {
    case 'expired':
    case 'invalid':
      tone = 'danger';
      text = t(`banner.${data.status}`);
      break;
    case 'expiring':
      tone = 'warning';
      text = data.days_left ? t('banner.expiring', { count: data.days_left }) : t('banner.expiringToday');
      break;
    case 'missing_scopes':
      tone = 'warning';
      text = t('banner.missing_scopes', { scopes: data.missing_scopes.join(', ') });
      action = t('banner.grant');
      break;
    case 'disconnected':
      if (onMarketing) {
        tone = 'info';
        text = t('banner.notConnected');
        action = t('banner.connect');
      }
      break;
    default:
      break;
  }
  if (!tone) return null;
  const Icon = tone === 'danger' ? AlertOctagon : tone === 'warning' ? AlertTriangle : PlugZap;
  return (
    <div className={`meta-banner meta-banner-${tone}`} role={tone === 'danger' ? 'alert' : 'status'} data-testid="meta-banner" data-status={data.status}>
      <Icon size={18} aria-hidden />
      <span className="meta-banner-text">{text}</span>
      {canManage && (
        <Link className="meta-banner-action" to={reconnectTo}>
          {action}
        </Link>
      )}
    </div>
  );
}
