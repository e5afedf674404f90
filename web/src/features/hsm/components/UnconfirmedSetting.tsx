import { useTranslation } from 'react-i18next';
import { errorMessage, useToast } from '../../../shared/ui';
import { useHsmSettings, useSetResendUnconfirmed } from '../api/hsm';

/**
 * The tenant's choice for automation sends Meta never confirms: held for a
 * person (default, at most once) or sent again after silence (at least once).
 */
export function UnconfirmedSetting() {
  const { t } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const settings = useHsmSettings();
  const save = useSetResendUnconfirmed();
  const s = settings.data;
  if (!s) return null;
  return (
    <div className="hsm-unconfirmed" data-testid="hsm-unconfirmed-setting">
      <label className="hsm-unconfirmed-toggle">
        <input
          type="checkbox"
          checked={s.resend_unconfirmed ?? false}
          disabled={save.isPending}
          onChange={(e) =>
            save.mutate(
              {
                opt_out_keywords: s.opt_out_keywords,
                opt_in_keywords: s.opt_in_keywords,
                messages_per_second: s.messages_per_second,
                resend_unconfirmed: e.target.checked,
              },
              { onSuccess: () => toast.success(t('hsm:logs.resendSettingSaved')), onError: (err) => toast.error(errorMessage(tc, err)) },
            )
          }
        />
        {t('hsm:logs.resendSetting')}
      </label>
      <p className="muted small">{t('hsm:logs.resendSettingHelp')}</p>
    </div>
  );
}
