import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { logout } from '../../../shared/session';

/**
 * Ends the session, then goes to the login page. It lives outside the
 * authenticated layout, so clearing the session does not look like an
 * expired one (which would come back with `?next=`).
 */
export function LogoutPage() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const navigate = useNavigate();
  const toast = useToast();
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    logout(client)
      .catch((err: unknown) => {
        // The local session is gone either way; say so if the server did not confirm.
        toast.error(errorMessage(t, err));
      })
      .finally(() => navigate('/login', { replace: true }));
  }, [client, navigate, t, toast]);

  return (
    <div className="full-page">
      <LoadingState label={t('userMenu.loggingOut')} />
    </div>
  );
}
