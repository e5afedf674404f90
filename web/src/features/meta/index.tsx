import { PlugZap } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import { MetaSettingsPage } from './routes/MetaSettingsPage';
import { MetaTokenBanner } from './components/MetaTokenBanner';
import './i18n';

export { MetaConnectionWizard } from './components/MetaConnectionWizard';
export type { MetaConnectionWizardProps, WizardStep } from './components/MetaConnectionWizard';
export { MetaTokenBanner } from './components/MetaTokenBanner';
export { useTokenStatus, TOKEN_STATUS_KEY } from './api/meta';
export type { TokenStatus } from './api/meta';

export const metaFeature: FeatureModule = {
  id: 'meta',
  routes: [{ path: '/settings/meta', element: <MetaSettingsPage />, permission: 'meta.manage' }],
  nav: [
    { to: '/settings/meta', labelKey: 'meta:nav', descriptionKey: 'meta:navDescription', icon: PlugZap, permission: 'meta.manage', section: 'settings' },
  ],
  banner: MetaTokenBanner,
};
