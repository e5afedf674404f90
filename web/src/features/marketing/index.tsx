import { lazy } from 'react';
import { Megaphone } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import './i18n';

const MarketingHubPage = lazy(() => import('./routes/MarketingHubPage'));
const CampaignPage = lazy(() => import('./routes/CampaignPage'));

/** The Marketing Hub (ceo, admin, marketing): Meta spend to won revenue. */
export const marketingFeature: FeatureModule = {
  id: 'marketing',
  routes: [
    { path: '/crm/marketing', element: <MarketingHubPage />, permission: 'marketing.read' },
    { path: '/crm/marketing/campaigns/:id', element: <CampaignPage />, permission: 'marketing.read' },
  ],
  nav: [
    { to: '/crm/marketing', labelKey: 'marketing:nav', descriptionKey: 'marketing:navDescription', icon: Megaphone, permission: 'marketing.read', section: 'main' },
  ],
};
