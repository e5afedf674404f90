import { Suspense, useMemo, useState, type ComponentType } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Menu } from 'lucide-react';
import type { NavItem, NavSection } from '../../shared/feature';
import { NavContext, visibleNav } from '../../shared/nav';
import { useSession } from '../../shared/session';
import { BrandMark } from '../../shared/Brand';
import { LanguageSwitch } from '../../shared/LanguageSwitch';
import { UserMenu } from './UserMenu';
import { LoadingState } from '../../shared/ui';

const SECTIONS: NavSection[] = ['main', 'settings'];

export function AppLayout({ nav, banners = [] }: { nav: NavItem[]; banners?: ComponentType[] }) {
  const { t } = useTranslation();
  const session = useSession();
  const location = useLocation();
  const [menuOpenAt, setMenuOpenAt] = useState<string | null>(null);
  const items = useMemo(() => visibleNav(nav, session.permissions), [nav, session.permissions]);
  // The mobile menu closes itself when the route changes.
  const mobileOpen = menuOpenAt === location.pathname;

  return (
    <NavContext.Provider value={items}>
      <div className={`app${mobileOpen ? ' nav-open' : ''}`}>
        <aside className="sidebar" aria-label={t('nav.label')}>
          <div className="sidebar-brand">
            <BrandMark />
          </div>
          <nav className="sidebar-nav">
            {SECTIONS.map((section) => {
              const inSection = items.filter((i) => i.section === section);
              if (inSection.length === 0) return null;
              return (
                <div className="nav-section" key={section}>
                  {section !== 'main' && <div className="nav-section-title">{t(`nav.section.${section}`)}</div>}
                  <ul>
                    {inSection.map((item) => (
                      <li key={item.to}>
                        <NavLink to={item.to} end={item.end ?? false} className={({ isActive }) => `nav-link${isActive ? ' active' : ''}`}>
                          <item.icon size={18} aria-hidden />
                          <span>{t(item.labelKey)}</span>
                        </NavLink>
                      </li>
                    ))}
                  </ul>
                </div>
              );
            })}
          </nav>
          <div className="sidebar-footer">
            <span className="tenant-chip" title={session.tenant.name}>
              {session.tenant.name}
            </span>
          </div>
        </aside>
        <div className="sidebar-scrim" onClick={() => setMenuOpenAt(null)} aria-hidden />
        <div className="main">
          <header className="topbar">
            <button
              type="button"
              className="icon-btn mobile-only"
              aria-label={t('nav.open')}
              aria-expanded={mobileOpen}
              onClick={() => setMenuOpenAt(mobileOpen ? null : location.pathname)}
            >
              <Menu size={20} aria-hidden />
            </button>
            <div className="topbar-tenant">{session.tenant.name}</div>
            <div className="topbar-actions">
              <LanguageSwitch />
              <UserMenu />
            </div>
          </header>
          <main className="content">
            {banners.map((Banner, i) => (
              <Banner key={i} />
            ))}
            {/* Features may lazy-load their pages (React.lazy); this covers the wait. */}
            <Suspense fallback={<LoadingState />}>
              <Outlet />
            </Suspense>
          </main>
        </div>
      </div>
    </NavContext.Provider>
  );
}
