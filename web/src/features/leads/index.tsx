import { lazy } from 'react';
import { Contact, FileUp } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import './i18n';

const LeadsPage = lazy(() => import('./routes/LeadsPage'));
const LeadDetailPage = lazy(() => import('./routes/LeadDetailPage'));
const ImportPage = lazy(() => import('./routes/ImportPage'));

export const leadsFeature: FeatureModule = {
  id: 'leads',
  routes: [
    { path: '/crm/leads', element: <LeadsPage />, permission: 'leads.read' },
    { path: '/crm/leads/import', element: <ImportPage />, permission: 'leads.import' },
    { path: '/crm/leads/:id', element: <LeadDetailPage />, permission: 'leads.read' },
  ],
  nav: [
    { to: '/crm/leads', labelKey: 'nav.leads', descriptionKey: 'nav.leadsDescription', icon: Contact, permission: 'leads.read', section: 'main', end: true },
    { to: '/crm/leads/import', labelKey: 'nav.leadsImport', descriptionKey: 'nav.leadsImportDescription', icon: FileUp, permission: 'leads.import', section: 'main' },
  ],
};
