import { Users } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import { TeamPage } from './routes/TeamPage';

export const teamFeature: FeatureModule = {
  id: 'team',
  routes: [{ path: '/team', element: <TeamPage />, permission: 'team.manage' }],
  nav: [{ to: '/team', labelKey: 'nav.team', descriptionKey: 'nav.teamDescription', icon: Users, permission: 'team.manage', section: 'main' }],
};
