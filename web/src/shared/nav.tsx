import { createContext, useContext } from 'react';
import type { NavItem } from './feature';

/** The sidebar entries the current session may see (already filtered by permission). */
export const NavContext = createContext<NavItem[]>([]);

export function useVisibleNav(): NavItem[] {
  return useContext(NavContext);
}

export function visibleNav(items: NavItem[], permissions: readonly string[]): NavItem[] {
  return items.filter((item) => !item.permission || permissions.includes(item.permission));
}
