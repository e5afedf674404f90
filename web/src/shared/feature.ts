import type { ComponentType, ReactNode } from 'react';
import type { LucideIcon } from 'lucide-react';

/** A page a feature contributes, mounted inside the authenticated layout. */
export interface FeatureRoute {
  /** Absolute path, e.g. `/team` or `/settings/tokens`. */
  path: string;
  element: ReactNode;
  /** Server permission needed to open it (from SessionInfo.permissions). */
  permission?: string;
}

export type NavSection = 'main' | 'settings';

/** A sidebar entry; shown only when the session has `permission`. */
export interface NavItem {
  to: string;
  /** i18n key of the label. */
  labelKey: string;
  /** i18n key of a one-line description (used for quick links on the home page). */
  descriptionKey?: string;
  icon: LucideIcon;
  permission?: string;
  section: NavSection;
  /** Match only the exact path (for `/`). */
  end?: boolean;
}

/** Everything one feature adds to the app. Register it once in `src/app/features.ts`. */
export interface FeatureModule {
  id: string;
  routes: FeatureRoute[];
  nav: NavItem[];
  /** Rendered above every page of the authenticated layout (e.g. a connection warning). */
  banner?: ComponentType;
}
