import { ScrollText } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import { AuditPage } from './routes/AuditPage';

export const auditFeature: FeatureModule = {
  id: 'audit',
  routes: [{ path: '/audit', element: <AuditPage />, permission: 'audit.read' }],
  nav: [{ to: '/audit', labelKey: 'nav.audit', descriptionKey: 'nav.auditDescription', icon: ScrollText, permission: 'audit.read', section: 'main' }],
};
