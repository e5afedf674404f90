// CSV header parsing and the import wizard's mapping guess. The server does
// the real import; this only proposes a header → field mapping for review.

/** Lead fields a CSV column can map to (crm-core import::FIELDS). */
export const IMPORT_FIELDS = [
  'name', 'first_name', 'last_name', 'phone', 'email', 'wa_id', 'bsuid', 'status', 'tags', 'owner_email',
  'lead_source', 'channel', 'meta_campaign_id', 'meta_adset_id', 'meta_ad_id', 'meta_ad_headline', 'meta_ad_body',
  'meta_source_url', 'meta_lead_id', 'meta_form_id', 'ctwa_clid', 'utm_source', 'utm_medium', 'utm_campaign',
  'utm_content', 'utm_term', 'fbclid', 'timezone', 'opt_in', 'opt_in_method', 'created_at',
] as const;

export type ImportField = (typeof IMPORT_FIELDS)[number];
/** `-` means "ignore this column". */
export type MappingTarget = ImportField | '-';

const ALIASES: Record<string, ImportField> = {
  nombre: 'name', full_name: 'name', nombre_completo: 'name', fullname: 'name', contacto: 'name', contact: 'name',
  first: 'first_name', firstname: 'first_name', primer_nombre: 'first_name',
  apellido: 'last_name', apellidos: 'last_name', lastname: 'last_name', surname: 'last_name',
  telefono: 'phone', celular: 'phone', movil: 'phone', mobile: 'phone', phone_number: 'phone', tel: 'phone', whatsapp: 'phone', numero: 'phone',
  correo: 'email', e_mail: 'email', mail: 'email', correo_electronico: 'email', email_address: 'email',
  estado: 'status', etiquetas: 'tags', tag: 'tags', etiqueta: 'tags',
  source: 'lead_source', origen: 'lead_source', fuente: 'lead_source', canal: 'channel',
  campaign_id: 'meta_campaign_id', campana_id: 'meta_campaign_id', adset_id: 'meta_adset_id', ad_id: 'meta_ad_id',
  leadgen_id: 'meta_lead_id', lead_id: 'meta_lead_id', form_id: 'meta_form_id',
  owner: 'owner_email', vendedor: 'owner_email', responsable: 'owner_email', owner_email: 'owner_email',
  consent: 'opt_in', consentimiento: 'opt_in', zona_horaria: 'timezone', time_zone: 'timezone',
  fecha: 'created_at', fecha_creacion: 'created_at', created: 'created_at',
};

/** Lower case, accents removed, spaces and dashes as underscores. */
export function normalizeHeader(h: string): string {
  return h
    .replace(/^\uFEFF/, '')
    .trim()
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\s\-.]+/g, '_');
}

/** The field a header most likely means, or `-` when none fits. Each field is used once. */
export function guessMapping(headers: string[]): Record<string, MappingTarget> {
  const used = new Set<ImportField>();
  const out: Record<string, MappingTarget> = {};
  for (const h of headers) {
    const n = normalizeHeader(h);
    const exact = (IMPORT_FIELDS as readonly string[]).includes(n) ? (n as ImportField) : ALIASES[n];
    const field = exact && !used.has(exact) ? exact : undefined;
    if (field) used.add(field);
    out[h] = field ?? '-';
  }
  return out;
}

/** Whether a mapping can import anything: it needs a name or a contact column. */
export function mappingHasIdentity(mapping: Record<string, MappingTarget>): boolean {
  const targets = new Set(Object.values(mapping));
  return ['name', 'first_name', 'phone', 'email', 'wa_id', 'bsuid'].some((f) => targets.has(f as ImportField));
}

/**
 * The header row of a comma-separated CSV text (RFC 4180 quoting, as the
 * server reads it) and a few sample rows for the preview.
 */
export function parseCsvPreview(text: string, sampleRows = 3): { headers: string[]; rows: string[][] } {
  const delimiter = ',';
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let i = 0;
  const s = text.replace(/^\uFEFF/, '');
  while (i < s.length && records.length < sampleRows + 1) {
    const c = s[i] as string;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === delimiter) {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else {
      field += c;
    }
    i++;
  }
  if (records.length < sampleRows + 1 && (field !== '' || record.length)) {
    record.push(field);
    records.push(record);
  }
  const [headers = [], ...rows] = records;
  return { headers: headers.map((h) => h.trim()), rows };
}
