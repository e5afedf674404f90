import i18n from '../../i18n';
import en from './i18n/en.json';
import es from './i18n/es.json';

/** Registers the `marketing` namespace (Spanish first, English complete). */
export function registerMarketingI18n(): void {
  if (!i18n.hasResourceBundle('es', 'marketing')) i18n.addResourceBundle('es', 'marketing', es, true, false);
  if (!i18n.hasResourceBundle('en', 'marketing')) i18n.addResourceBundle('en', 'marketing', en, true, false);
}

registerMarketingI18n();
