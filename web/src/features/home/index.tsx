import { LayoutDashboard } from 'lucide-react';
import type { FeatureModule } from '../../shared/feature';
import { HomePage } from './routes/HomePage';

export const homeFeature: FeatureModule = {
  id: 'home',
  routes: [{ path: '/', element: <HomePage /> }],
  nav: [{ to: '/', labelKey: 'nav.home', icon: LayoutDashboard, section: 'main', end: true }],
};
