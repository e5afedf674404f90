import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { ChevronDown, LogOut, UserCog } from 'lucide-react';
import { useSession } from '../../shared/session';
import { initials } from '../../shared/format';
import { RoleBadge, useToast } from '../../shared/ui';

export function UserMenu() {
  const { t } = useTranslation();
  const session = useSession();
  const navigate = useNavigate();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  const onLogout = () => {
    setOpen(false);
    toast.clear();
    navigate('/logout');
  };

  const { user } = session;
  return (
    <div className="user-menu" ref={ref}>
      <button type="button" className="user-menu-trigger" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        <span className="avatar" aria-hidden>
          {initials(user.name)}
        </span>
        <span className="user-menu-name">{user.name}</span>
        <ChevronDown size={16} aria-hidden />
      </button>
      {open && (
        <div className="user-menu-panel" role="menu" aria-label={t('userMenu.label')}>
          <div className="user-menu-header">
            <div className="cell-strong">{user.name}</div>
            <div className="muted small">{user.email}</div>
            <div className="user-menu-role">
              <RoleBadge role={user.role} />
            </div>
          </div>
          <button
            type="button"
            role="menuitem"
            className="user-menu-item"
            onClick={() => {
              setOpen(false);
              navigate('/account');
            }}
          >
            <UserCog size={16} aria-hidden />
            <span>{t('userMenu.account')}</span>
          </button>
          <button type="button" role="menuitem" className="user-menu-item" onClick={onLogout}>
            <LogOut size={16} aria-hidden />
            <span>{t('userMenu.logout')}</span>
          </button>
        </div>
      )}
    </div>
  );
}
