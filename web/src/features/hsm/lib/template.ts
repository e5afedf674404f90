// Template text helpers that mirror the server's checks (crm-core
// automation::template): placeholders, Meta's limits, examples for every
// variable, and rendering with values for the previews.

import type { NewTemplate, TemplateButton, TemplateComponent } from '../api/types';

export type ParamFormat = 'POSITIONAL' | 'NAMED';

/** One `{{…}}`: `{{3}}` is positional 3, `{{first_name}}` is named. */
export type Placeholder = { kind: 'pos'; n: number } | { kind: 'named'; name: string };

export function placeholderKey(p: Placeholder): string {
  return p.kind === 'pos' ? String(p.n) : p.name;
}

/** Every placeholder of `text` in order (with repeats), or the reason it is invalid. */
export function placeholders(text: string): { ok: true; vars: Placeholder[] } | { ok: false; message: string } {
  const vars: Placeholder[] = [];
  let rest = text;
  for (;;) {
    const start = rest.indexOf('{{');
    if (start < 0) break;
    const after = rest.slice(start + 2);
    const end = after.indexOf('}}');
    if (end < 0) return { ok: false, message: 'unclosed' };
    const inner = after.slice(0, end).trim();
    if (/^[0-9]+$/.test(inner)) {
      const n = Number(inner);
      if (n === 0) return { ok: false, message: 'zero' };
      vars.push({ kind: 'pos', n });
    } else if (/^[a-z][a-z0-9_]{0,99}$/.test(inner)) {
      vars.push({ kind: 'named', name: inner });
    } else {
      return { ok: false, message: `invalid:${inner}` };
    }
    rest = after.slice(end + 2);
  }
  return { ok: true, vars };
}

/** Distinct keys: positional ones in numeric order, then named ones in order of appearance. */
export function orderedKeys(text: string): string[] {
  const r = placeholders(text);
  if (!r.ok) return [];
  const nums = [...new Set(r.vars.flatMap((v) => (v.kind === 'pos' ? [v.n] : [])))].sort((a, b) => a - b);
  const names: string[] = [];
  for (const v of r.vars) if (v.kind === 'named' && !names.includes(v.name)) names.push(v.name);
  return [...nums.map(String), ...names];
}

/** Replaces placeholders by `values[key]`; a missing value shows as `{{key}}` (the preview keeps it visible). */
export function render(text: string, values: Record<string, string | undefined>): string {
  return text.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (whole, key: string) => {
    const v = values[key];
    return v !== undefined && v !== '' ? v : whole;
  });
}

export interface ButtonDraft {
  type: 'QUICK_REPLY' | 'URL' | 'PHONE_NUMBER' | 'COPY_CODE';
  text: string;
  url: string;
  phone: string;
  example: string;
}

/** What the create form edits. */
export interface TemplateDraft {
  name: string;
  language: string;
  category: string;
  parameterFormat: ParamFormat;
  headerText: string;
  headerExamples: Record<string, string>;
  body: string;
  bodyExamples: Record<string, string>;
  footer: string;
  buttons: ButtonDraft[];
}

export function emptyDraft(): TemplateDraft {
  return { name: '', language: 'es', category: 'UTILITY', parameterFormat: 'POSITIONAL', headerText: '', headerExamples: {}, body: '', bodyExamples: {}, footer: '', buttons: [] };
}

/** A field-level problem: `field` is name, language, category, header, body, footer or buttons[i]. */
export interface Problem {
  field: string;
  code: string;
  params?: Record<string, string | number>;
}

function len(s: string): number {
  return [...s].length;
}

function checkVars(field: string, text: string, format: ParamFormat, out: Problem[]): Placeholder[] | null {
  const r = placeholders(text);
  if (!r.ok) {
    out.push({ field, code: 'invalid_placeholder' });
    return null;
  }
  const nums = r.vars.flatMap((v) => (v.kind === 'pos' ? [v.n] : []));
  const named = r.vars.some((v) => v.kind === 'named');
  if (named && nums.length > 0) {
    out.push({ field, code: 'mixed_placeholders' });
    return null;
  }
  if ((format === 'POSITIONAL' && named) || (format === 'NAMED' && nums.length > 0)) {
    out.push({ field, code: 'parameter_format_mismatch' });
    return null;
  }
  const distinct = [...new Set(nums)].sort((a, b) => a - b);
  const gap = distinct.findIndex((n, i) => n !== i + 1);
  if (gap >= 0) {
    out.push({ field, code: 'placeholder_sequence', params: { missing: gap + 1 } });
    return null;
  }
  return r.vars;
}

/**
 * The checks Meta (and the server) run on a new template, all at once so the
 * form can mark every field. The server stays the authority.
 */
export function validateDraft(d: TemplateDraft): Problem[] {
  const out: Problem[] = [];
  if (!d.name || len(d.name) > 512 || !/^[a-z0-9_]+$/.test(d.name)) out.push({ field: 'name', code: 'invalid_template_name' });
  if (!/^[a-z]{2,3}(_[A-Z][A-Za-z]{1,3})*$/.test(d.language)) out.push({ field: 'language', code: 'invalid_language' });
  if (!['MARKETING', 'UTILITY', 'AUTHENTICATION'].includes(d.category)) out.push({ field: 'category', code: 'invalid_category' });

  if (d.headerText !== '') {
    if (!d.headerText.trim()) out.push({ field: 'header', code: 'header_empty' });
    else if (len(d.headerText) > 60) out.push({ field: 'header', code: 'text_too_long', params: { max: 60, n: len(d.headerText) } });
    else {
      const vars = checkVars('header', d.headerText, d.parameterFormat, out);
      if (vars) {
        const keys = orderedKeys(d.headerText);
        if (keys.length > 1) out.push({ field: 'header', code: 'header_variables' });
        else if (keys.some((k) => !d.headerExamples[k]?.trim())) out.push({ field: 'header', code: 'missing_example' });
      }
    }
  }

  if (!d.body.trim()) out.push({ field: 'body', code: 'body_empty' });
  else if (len(d.body) > 1024) out.push({ field: 'body', code: 'text_too_long', params: { max: 1024, n: len(d.body) } });
  else {
    const vars = checkVars('body', d.body, d.parameterFormat, out);
    if (vars) {
      const t = d.body.trim();
      if (vars.length > 0 && (t.startsWith('{{') || t.endsWith('}}'))) out.push({ field: 'body', code: 'variable_at_edge' });
      else if (orderedKeys(d.body).some((k) => !d.bodyExamples[k]?.trim())) out.push({ field: 'body', code: 'missing_example' });
    }
  }

  if (d.footer !== '') {
    if (!d.footer.trim()) out.push({ field: 'footer', code: 'footer_empty' });
    else if (len(d.footer) > 60) out.push({ field: 'footer', code: 'text_too_long', params: { max: 60, n: len(d.footer) } });
    else if (d.footer.includes('{{')) out.push({ field: 'footer', code: 'footer_variables' });
  }

  if (d.buttons.length > 10) out.push({ field: 'buttons', code: 'too_many_buttons' });
  if (d.buttons.filter((b) => b.type === 'URL').length > 2) out.push({ field: 'buttons', code: 'too_many_url_buttons' });
  if (d.buttons.filter((b) => b.type === 'PHONE_NUMBER').length > 1) out.push({ field: 'buttons', code: 'too_many_phone_buttons' });
  d.buttons.forEach((b, i) => {
    const field = `buttons[${i}]`;
    if (b.type !== 'COPY_CODE' && !b.text.trim()) out.push({ field, code: 'button_text_required' });
    else if (len(b.text) > 25) out.push({ field, code: 'text_too_long', params: { max: 25, n: len(b.text) } });
    else if (b.type === 'URL') {
      if (!/^https?:\/\//.test(b.url)) out.push({ field, code: 'button_url' });
      else {
        const r = placeholders(b.url);
        if (!r.ok || r.vars.length > 1 || (r.vars.length === 1 && !b.url.trimEnd().endsWith('}}'))) out.push({ field, code: 'button_url_variable' });
        else if (r.vars.length === 1 && !b.example.trim()) out.push({ field, code: 'missing_example' });
      }
    } else if (b.type === 'PHONE_NUMBER') {
      const digits = b.phone.replace(/^\++/, '');
      if (!/^[0-9]{1,20}$/.test(digits)) out.push({ field, code: 'button_phone' });
    }
  });
  return out;
}

/** The request the server expects, with Meta's example shapes. */
/** The generated type of a free-form JSON object (`type: object` in the OpenAPI document). */
type JsonObject = Record<string, never>;
const asJson = (v: unknown): JsonObject => v as JsonObject;

export function draftToInput(d: TemplateDraft): NewTemplate {
  const named = d.parameterFormat === 'NAMED';
  const components: TemplateComponent[] = [];
  if (d.headerText.trim()) {
    const keys = orderedKeys(d.headerText);
    const example = keys.length === 0 ? null : named ? { header_text_named_params: keys.map((k) => ({ param_name: k, example: d.headerExamples[k] ?? '' })) } : { header_text: keys.map((k) => d.headerExamples[k] ?? '') };
    components.push({ type: 'HEADER', format: 'TEXT', text: d.headerText, ...(example ? { example: asJson(example) } : {}) });
  }
  const bodyKeys = orderedKeys(d.body);
  const bodyExample = bodyKeys.length === 0 ? null : named ? { body_text_named_params: bodyKeys.map((k) => ({ param_name: k, example: d.bodyExamples[k] ?? '' })) } : { body_text: [bodyKeys.map((k) => d.bodyExamples[k] ?? '')] };
  components.push({ type: 'BODY', text: d.body, ...(bodyExample ? { example: asJson(bodyExample) } : {}) });
  if (d.footer.trim()) components.push({ type: 'FOOTER', text: d.footer });
  if (d.buttons.length > 0) {
    components.push({
      type: 'BUTTONS',
      buttons: d.buttons.map((b): TemplateButton => {
        if (b.type === 'URL') return { type: 'URL', text: b.text, url: b.url, ...(b.url.includes('{{') ? { example: asJson([b.example]) } : {}) };
        if (b.type === 'PHONE_NUMBER') return { type: 'PHONE_NUMBER', text: b.text, phone_number: b.phone };
        if (b.type === 'COPY_CODE') return { type: 'COPY_CODE', text: b.text || null, example: asJson([b.example]) };
        return { type: 'QUICK_REPLY', text: b.text };
      }),
    });
  }
  return { name: d.name, language: d.language, category: d.category, components, parameter_format: d.parameterFormat };
}

/** What a preview shows: texts with their placeholders, and the buttons' labels. */
export interface PreviewParts {
  header: string | null;
  body: string;
  footer: string | null;
  buttons: { type: string; text: string }[];
}

/** Preview parts of a stored template's components. */
export function partsOf(components: readonly TemplateComponent[]): PreviewParts {
  const find = (t: string) => components.find((c) => c.type === t);
  const header = find('HEADER');
  return {
    header: header ? (header.format && header.format !== 'TEXT' ? `[${header.format}]` : (header.text ?? null)) : null,
    body: find('BODY')?.text ?? '',
    footer: find('FOOTER')?.text ?? null,
    buttons: (find('BUTTONS')?.buttons ?? []).map((b) => ({ type: b.type, text: b.text ?? '' })),
  };
}

/** Preview parts of the create form. */
export function partsOfDraft(d: TemplateDraft): PreviewParts {
  return {
    header: d.headerText.trim() ? render(d.headerText, d.headerExamples) : null,
    body: render(d.body, d.bodyExamples),
    footer: d.footer.trim() ? d.footer : null,
    buttons: d.buttons.map((b) => ({ type: b.type, text: b.text })),
  };
}

/** The body text of a template, rendered with send values keyed like `variables` (`1`, `name`, `header.1`). */
export function renderWith(components: readonly TemplateComponent[], values: Record<string, string | undefined>): PreviewParts {
  const p = partsOf(components);
  const headerValues: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(values)) if (k.startsWith('header.')) headerValues[k.slice(7)] = v;
  return { ...p, header: p.header !== null ? render(p.header, headerValues) : null, body: render(p.body, values) };
}
