import type { ReactNode } from 'react';
import { LanguageSwitch } from '../../../shared/LanguageSwitch';
import { BrandMark } from '../../../shared/Brand';

/** The centered card used by the login and first-run pages. */
export function AuthShell({ title, subtitle, children, wide = false }: { title: string; subtitle?: string; children: ReactNode; wide?: boolean }) {
  return (
    <div className="auth-page">
      <div className="auth-top">
        <BrandMark />
        <LanguageSwitch />
      </div>
      <main className={`auth-card${wide ? ' auth-card-wide' : ''}`}>
        <h1 className="auth-title">{title}</h1>
        {subtitle && <p className="auth-subtitle">{subtitle}</p>}
        {children}
      </main>
    </div>
  );
}
