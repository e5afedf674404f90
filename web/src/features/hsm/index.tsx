import { lazy } from 'react';
import { Bot } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import './i18n';

const HsmPage = lazy(() => import('./routes/HsmPage'));

/** The lead page mounts this in its WhatsApp slot (loaded on demand). */
export const LeadMessagingPanel = lazy(() => import('./components/LeadMessagingPanel'));

export const hsmFeature: FeatureModule = {
  id: 'hsm',
  routes: [{ path: '/crm/hsm', element: <HsmPage />, permission: 'hsm.manage' }],
  nav: [{ to: '/crm/hsm', labelKey: 'hsm:nav', descriptionKey: 'hsm:navDescription', icon: Bot, permission: 'hsm.manage', section: 'main' }],
};
