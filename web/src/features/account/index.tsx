import type { FeatureModule } from '../../shared/feature';
import { AccountPage } from './routes/AccountPage';

/** "My account": open to every signed-in user, reached from the user menu (no sidebar entry). */
export const accountFeature: FeatureModule = {
  id: 'account',
  routes: [{ path: '/account', element: <AccountPage /> }],
  nav: [],
};
