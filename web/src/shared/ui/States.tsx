import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { AlertTriangle, Inbox, Loader2, RotateCw } from 'lucide-react';
import { Button } from './Button';
import { errorMessage } from './errors';

export function LoadingState({ label }: { label?: string }) {
  const { t } = useTranslation();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <Loader2 className="spin" size={22} aria-hidden />
      <span>{label ?? t('common.loading')}</span>
    </div>
  );
}

export function EmptyState({ title, description, action, icon }: { title: string; description?: string; action?: ReactNode; icon?: ReactNode }) {
  return (
    <div className="state state-empty">
      <div className="state-icon">{icon ?? <Inbox size={28} aria-hidden />}</div>
      <p className="state-title">{title}</p>
      {description && <p className="state-description">{description}</p>}
      {action && <div className="state-action">{action}</div>}
    </div>
  );
}

export function ErrorState({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const { t } = useTranslation();
  return (
    <div className="state state-error" role="alert">
      <div className="state-icon">
        <AlertTriangle size={28} aria-hidden />
      </div>
      <p className="state-title">{title ?? t('common.errorTitle')}</p>
      <p className="state-description">{errorMessage(t, error)}</p>
      {onRetry && (
        <div className="state-action">
          <Button icon={<RotateCw size={16} aria-hidden />} onClick={onRetry}>
            {t('common.retry')}
          </Button>
        </div>
      )}
    </div>
  );
}

/** An inline error box for forms. */
export function InlineError({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  return (
    <div className="inline-error" role="alert">
      <AlertTriangle size={16} aria-hidden />
      <span>{errorMessage(t, error)}</span>
    </div>
  );
}
