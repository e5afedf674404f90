import { lazy } from 'react';
import { Kanban } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import './i18n';

const PipelinePage = lazy(() => import('./routes/PipelinePage'));

export const pipelineFeature: FeatureModule = {
  id: 'pipeline',
  routes: [{ path: '/crm/pipeline', element: <PipelinePage />, permission: 'pipeline.read' }],
  nav: [{ to: '/crm/pipeline', labelKey: 'nav.pipeline', descriptionKey: 'nav.pipelineDescription', icon: Kanban, permission: 'pipeline.read', section: 'main' }],
};
