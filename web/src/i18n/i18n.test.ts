import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import es from './es.json';
import en from './en.json';
import { ALL_PERMISSIONS } from '../test/fakeApi';

function flatten(obj: unknown, prefix = ''): string[] {
  if (typeof obj !== 'object' || obj === null) return [prefix];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx)$/.test(name) && !/\.test\.tsx?$/.test(name) ? [full] : [];
  });
}

/** Plural keys (`x_one`, `x_other`) are used as `x`. */
function usableKeys(keys: string[]): Set<string> {
  return new Set(keys.flatMap((k) => [k, k.replace(/_(zero|one|two|few|many|other)$/, '')]));
}

/** `features/<name>/` folders that register their own namespace (`i18n/{es,en}.json`). */
function featureNamespace(file: string): string | null {
  const m = /[\\/]features[\\/]([^\\/]+)[\\/]/.exec(file);
  if (!m?.[1]) return null;
  const dir = join(__dirname, '..', 'features', m[1], 'i18n');
  return existsSync(join(dir, 'es.json')) && existsSync(join(dir, 'en.json')) ? dir : null;
}

describe('translations', () => {
  it('Spanish and English define exactly the same keys', () => {
    expect(flatten(en).sort()).toEqual(flatten(es).sort());
  });

  it('every literal key used in the source exists in both languages', () => {
    const root = join(__dirname, '..');
    const used = new Set<string>();
    for (const file of sourceFiles(root)) {
      // Features with their own i18next namespace are checked below.
      if (featureNamespace(file)) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z]+\.[a-zA-Z_.]+)'/g)) if (m[1]) used.add(m[1]);
      for (const m of text.matchAll(/(?:labelKey|descriptionKey): '([^']+)'/g)) if (m[1]) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(50);
    const esKeys = usableKeys(flatten(es));
    const enKeys = usableKeys(flatten(en));
    const missing = [...used].filter((k) => !esKeys.has(k) || !enKeys.has(k));
    expect(missing).toEqual([]);
  });

  it('feature namespaces: both languages complete, every literal key used by the feature defined', () => {
    const dirs = new Set(sourceFiles(join(__dirname, '..')).map(featureNamespace).filter((d): d is string => d !== null));
    expect(dirs.size).toBeGreaterThan(0);
    for (const dir of dirs) {
      const nsEs = JSON.parse(readFileSync(join(dir, 'es.json'), 'utf8')) as unknown;
      const nsEn = JSON.parse(readFileSync(join(dir, 'en.json'), 'utf8')) as unknown;
      expect(flatten(nsEn).sort()).toEqual(flatten(nsEs).sort());
      const esKeys = usableKeys(flatten(nsEs));
      const enKeys = usableKeys(flatten(nsEn));
      const used = new Set<string>();
      for (const file of sourceFiles(join(dir, '..'))) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/\bt\(\s*'([a-zA-Z]+\.[a-zA-Z_.]+)'/g)) if (m[1]) used.add(m[1]);
        for (const m of text.matchAll(/(?:labelKey|descriptionKey): '[a-z]+:([^']+)'/g)) if (m[1]) used.add(m[1]);
      }
      const missing = [...used].filter((k) => !esKeys.has(k) || !enKeys.has(k));
      expect(missing, dir).toEqual([]);
    }
  });

  it('has a label and description for every role and a name for every permission the server uses', () => {
    for (const lang of [es, en]) {
      expect(Object.keys(lang.roles).sort()).toEqual(['admin', 'ceo', 'marketing', 'seller']);
      expect(Object.keys(lang.roleDescriptions).sort()).toEqual(['admin', 'ceo', 'marketing', 'seller']);
      expect(Object.keys(lang.permissions).sort()).toEqual([...ALL_PERMISSIONS].map((p) => p.replace(".", "_")).sort());
    }
  });
});
