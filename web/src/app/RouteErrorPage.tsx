import { useTranslation } from 'react-i18next';
import { isRouteErrorResponse, useRouteError } from 'react-router';
import { ErrorState } from '../shared/ui';

/** Shown when a page fails to render or load (e.g. a lazy chunk after a deploy). */
export function RouteErrorPage() {
  const { t } = useTranslation();
  const error = useRouteError();
  const shown = isRouteErrorResponse(error) ? new Error(`${error.status} ${error.statusText}`) : error;
  return (
    <div className="full-page">
      <ErrorState error={shown} title={t('errors.pageFailed')} onRetry={() => window.location.reload()} />
    </div>
  );
}
