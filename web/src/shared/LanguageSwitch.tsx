import { useTranslation } from 'react-i18next';
import { Languages } from 'lucide-react';
import { changeLanguage, isLanguage, LANGUAGES } from '../i18n';

/** es/en switch; the choice is stored in localStorage. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const current = isLanguage(i18n.resolvedLanguage) ? i18n.resolvedLanguage : 'es';
  return (
    <div className="lang-switch" role="group" aria-label={t('language.label')}>
      <Languages size={16} aria-hidden />
      {LANGUAGES.map((lang) => (
        <button
          key={lang}
          type="button"
          className={`lang-option${lang === current ? ' active' : ''}`}
          aria-pressed={lang === current}
          title={t(`language.${lang}`)}
          onClick={() => void changeLanguage(lang)}
        >
          {lang.toUpperCase()}
        </button>
      ))}
    </div>
  );
}
