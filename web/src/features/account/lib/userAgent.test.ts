import { beforeEach, describe, expect, it } from 'vitest';
import i18n, { changeLanguage } from '../../../i18n';
import { describeDevice, parseUserAgent } from './userAgent';

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  edgeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86',
  firefoxLinux: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  chromeIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
  safariIpad: 'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  chromeAndroidPhone: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  chromeAndroidTablet: 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  samsungAndroid: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
  operaMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0',
  firefoxAndroid: 'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0',
  chromebook: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  headless: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
  curl: 'curl/8.5.0',
};

describe('parseUserAgent', () => {
  it.each([
    ['chromeWindows', 'Chrome', 'Windows', 'computer'],
    ['edgeWindows', 'Edge', 'Windows', 'computer'],
    ['firefoxLinux', 'Firefox', 'Linux', 'computer'],
    ['safariMac', 'Safari', 'macOS', 'computer'],
    ['safariIphone', 'Safari', 'iPhone', 'phone'],
    ['chromeIphone', 'Chrome', 'iPhone', 'phone'],
    ['safariIpad', 'Safari', 'iPad', 'tablet'],
    ['chromeAndroidPhone', 'Chrome', 'Android', 'phone'],
    ['chromeAndroidTablet', 'Chrome', 'Android', 'tablet'],
    ['samsungAndroid', 'Samsung Internet', 'Android', 'phone'],
    ['operaMac', 'Opera', 'macOS', 'computer'],
    ['firefoxAndroid', 'Firefox', 'Android', 'phone'],
    ['chromebook', 'Chrome', 'ChromeOS', 'computer'],
    ['headless', 'Chrome', 'Linux', 'computer'],
    ['curl', null, null, 'computer'],
  ] as const)('%s → %s on %s (%s)', (name, browser, os, kind) => {
    expect(parseUserAgent(UA[name])).toEqual({ browser, os, kind });
  });

  it('treats a missing or empty User-Agent as unknown', () => {
    for (const ua of [null, undefined, '', '   ']) expect(parseUserAgent(ua)).toEqual({ browser: null, os: null, kind: 'computer' });
  });
});

describe('describeDevice', () => {
  beforeEach(async () => {
    await changeLanguage('es');
  });
  const t = (key: string, options?: Record<string, string>) => i18n.t(key, options);

  it('says it in plain Spanish', () => {
    expect(describeDevice(t, UA.chromeWindows)).toBe('Chrome en Windows');
    expect(describeDevice(t, UA.safariIphone)).toBe('Safari en iPhone');
    expect(describeDevice(t, 'Mozilla/5.0 (X11; Linux x86_64) SomeBot/1.0')).toBe('Otro navegador en Linux');
    expect(describeDevice(t, UA.curl)).toBe('Dispositivo desconocido');
    expect(describeDevice(t, null)).toBe('Dispositivo desconocido');
  });

  it('and in English', async () => {
    await changeLanguage('en');
    expect(describeDevice(t, UA.firefoxLinux)).toBe('Firefox on Linux');
    expect(describeDevice(t, UA.samsungAndroid)).toBe('Samsung Internet on Android');
    expect(describeDevice(t, UA.curl)).toBe('Unknown device');
  });
});
