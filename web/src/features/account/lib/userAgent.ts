/**
 * A plain description of the device behind a User-Agent string: which
 * browser on which system, and whether it is a phone, a tablet or a
 * computer. Only the common browsers are named; anything else is `null`
 * (the page then says "unknown browser/device" in the user's language).
 */
export type Browser = 'Edge' | 'Opera' | 'Samsung Internet' | 'Firefox' | 'Chrome' | 'Safari';
export type Os = 'Windows' | 'macOS' | 'iPhone' | 'iPad' | 'Android' | 'ChromeOS' | 'Linux';
export type DeviceKind = 'phone' | 'tablet' | 'computer';

export interface ParsedUserAgent {
  browser: Browser | null;
  os: Os | null;
  kind: DeviceKind;
}

function browserOf(ua: string): Browser | null {
  // Order matters: Edge, Opera and Samsung Internet also say "Chrome", and
  // every Chromium browser also says "Safari".
  if (/\b(Edg|Edge|EdgA|EdgiOS)\//.test(ua)) return 'Edge';
  if (/\b(OPR|Opera|OPT|OPiOS)\//.test(ua)) return 'Opera';
  if (/\bSamsungBrowser\//.test(ua)) return 'Samsung Internet';
  if (/\b(Firefox|FxiOS)\//.test(ua)) return 'Firefox';
  if (/\b(Chrome|HeadlessChrome|CriOS|Chromium)\//.test(ua)) return 'Chrome';
  if (/\bVersion\/[\d.]+.*\bSafari\//.test(ua) || (/\bAppleWebKit\//.test(ua) && /\b(iPhone|iPad|iPod)\b/.test(ua))) return 'Safari';
  return null;
}

function osOf(ua: string): Os | null {
  if (/\biPad\b/.test(ua)) return 'iPad';
  if (/\b(iPhone|iPod)\b/.test(ua)) return 'iPhone';
  if (/\bAndroid\b/.test(ua)) return 'Android';
  if (/\bCrOS\b/.test(ua)) return 'ChromeOS';
  if (/\bWindows\b/.test(ua)) return 'Windows';
  if (/\bMac OS X\b|\bMacintosh\b/.test(ua)) return 'macOS';
  if (/\bLinux\b|\bX11\b/.test(ua)) return 'Linux';
  return null;
}

function kindOf(ua: string, os: Os | null): DeviceKind {
  if (os === 'iPhone') return 'phone';
  if (os === 'iPad' || /\bTablet\b/i.test(ua)) return 'tablet';
  // Android phones say "Mobile"; Android tablets leave it out.
  if (os === 'Android') return /\bMobile\b/.test(ua) ? 'phone' : 'tablet';
  if (/\bMobile\b/.test(ua)) return 'phone';
  return 'computer';
}

export function parseUserAgent(ua: string | null | undefined): ParsedUserAgent {
  const text = (ua ?? '').trim();
  if (!text) return { browser: null, os: null, kind: 'computer' };
  const os = osOf(text);
  return { browser: browserOf(text), os, kind: kindOf(text, os) };
}

type Translate = (key: string, options?: Record<string, string>) => string;

/** "Chrome en Windows", "Safari on iPhone", … in the language of `t`. */
export function describeDevice(t: Translate, ua: string | null | undefined): string {
  const { browser, os } = parseUserAgent(ua);
  if (browser && os) return t('account.device.browserOn', { browser, os });
  if (browser) return browser;
  if (os) return t('account.device.otherBrowserOn', { os });
  return t('account.device.unknown');
}
