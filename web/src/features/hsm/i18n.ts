import i18n from '../../i18n';
import en from './i18n/en.json';
import es from './i18n/es.json';

/** Registers the `hsm` namespace (Spanish first, English complete). */
export function registerHsmI18n(): void {
  if (!i18n.hasResourceBundle('es', 'hsm')) i18n.addResourceBundle('es', 'hsm', es, true, false);
  if (!i18n.hasResourceBundle('en', 'hsm')) i18n.addResourceBundle('en', 'hsm', en, true, false);
}

registerHsmI18n();
