import { Building2, KeyRound } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import { GeneralSettingsPage } from './routes/GeneralSettingsPage';
import { TokensPage } from './routes/TokensPage';

export const settingsFeature: FeatureModule = {
  id: 'settings',
  routes: [
    { path: '/settings/general', element: <GeneralSettingsPage />, permission: 'settings.manage' },
    { path: '/settings/tokens', element: <TokensPage />, permission: 'tokens.manage' },
  ],
  nav: [
    { to: '/settings/general', labelKey: 'nav.general', descriptionKey: 'nav.generalDescription', icon: Building2, permission: 'settings.manage', section: 'settings' },
    { to: '/settings/tokens', labelKey: 'nav.tokens', descriptionKey: 'nav.tokensDescription', icon: KeyRound, permission: 'tokens.manage', section: 'settings' },
  ],
};
