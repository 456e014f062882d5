/**
 * A small validator for the JSON-schema subset used by Microsoft's swagger files: type,
 * properties, required, enum, items, $ref (also across files), allOf, additionalProperties,
 * discriminator (x-ms-discriminator-value), minimum/maximum, format date-time, readOnly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const SPECS_ROOT = '/work/shared/specs/azure';
export const SPEC = {
  resourceGraph: 'resourcegraph/resource-manager/Microsoft.ResourceGraph/stable/2024-04-01/resourcegraph.json',
  assessments: 'security/resource-manager/Microsoft.Security/stable/2021-06-01/assessments.json',
  assessmentMetadata: 'security/resource-manager/Microsoft.Security/stable/2021-06-01/assessmentMetadata.json',
  governanceAssignments: 'security/resource-manager/Microsoft.Security/preview/2022-01-01-preview/governanceAssignments.json',
  governanceRules: 'security/resource-manager/Microsoft.Security/preview/2022-01-01-preview/governanceRules.json',
} as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: Json };

interface Located {
  schema: Schema;
  file: string;
}

export interface ValidateOptions {
  /** Request bodies must not carry readOnly properties. */
  request?: boolean;
  /** Flag properties the spec does not declare (catches misspelt field names). */
  noExtra?: boolean;
}

const docs = new Map<string, Schema>();

function loadDoc(file: string): Schema {
  let d = docs.get(file);
  if (!d) {
    d = JSON.parse(readFileSync(file, 'utf8')) as Schema;
    docs.set(file, d);
  }
  return d;
}

function resolveRef(ref: string, fromFile: string): Located {
  const [filePart, pointer = ''] = ref.split('#');
  const file = filePart ? path.resolve(path.dirname(fromFile), filePart) : fromFile;
  let node: Json = loadDoc(file);
  for (const seg of pointer.split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`bad $ref ${ref}`);
    node = (node as Schema)[seg.replace(/~1/g, '/').replace(/~0/g, '~')] ?? null;
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`unresolvable $ref ${ref} from ${fromFile}`);
  return { schema: node as Schema, file };
}

function deref(l: Located): Located {
  let cur = l;
  while (typeof cur.schema['$ref'] === 'string') cur = resolveRef(cur.schema['$ref'], cur.file);
  return cur;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Subtypes that declare `x-ms-discriminator-value` = value and extend the base via allOf. */
function discriminatorSubtype(base: Located, value: string): Located | undefined {
  const defs = loadDoc(base.file)['definitions'] as Record<string, Schema> | undefined;
  for (const def of Object.values(defs ?? {})) {
    if (def['x-ms-discriminator-value'] === value) return { schema: def, file: base.file };
  }
  return undefined;
}

/** All property names a schema allows (own + allOf + discriminated subtype). */
function knownProperties(l: Located, value: Record<string, unknown>, seen = new Set<Schema>()): Set<string> {
  const s = deref(l);
  const out = new Set<string>();
  if (seen.has(s.schema)) return out;
  seen.add(s.schema);
  for (const k of Object.keys((s.schema['properties'] as Schema | undefined) ?? {})) out.add(k);
  for (const part of (s.schema['allOf'] as Schema[] | undefined) ?? []) {
    for (const k of knownProperties({ schema: part, file: s.file }, value, seen)) out.add(k);
  }
  const disc = s.schema['discriminator'];
  if (typeof disc === 'string' && typeof value[disc] === 'string') {
    const sub = discriminatorSubtype(s, value[disc] as string);
    if (sub) for (const k of knownProperties(sub, value, seen)) out.add(k);
  }
  return out;
}

/** `part`: validating one allOf member / subtype, whose own property list is not the whole story. */
function validateAt(l: Located, value: unknown, at: string, opts: ValidateOptions, errors: string[], part = false): void {
  const s = deref(l);
  const schema = s.schema;
  for (const member of (schema['allOf'] as Schema[] | undefined) ?? []) validateAt({ schema: member, file: s.file }, value, at, opts, errors, true);

  const type = schema['type'];
  const props = schema['properties'] as Record<string, Schema> | undefined;
  const additional = schema['additionalProperties'];
  // Autorest reads a bare `type: object` (no properties, no allOf) as "any JSON", which is how
  // ARG's `data` (object array or table) is declared.
  const bareObject = type === 'object' && !props && !schema['allOf'] && additional === undefined;
  if (typeof type === 'string' && !bareObject) {
    const actual = typeOf(value);
    const ok = actual === type || (type === 'number' && actual === 'integer');
    if (!ok) {
      errors.push(`${at}: expected ${type}, got ${actual}`);
      return;
    }
  }
  if (Array.isArray(schema['enum']) && !(schema['enum'] as Json[]).includes(value as Json)) {
    errors.push(`${at}: ${JSON.stringify(value)} not in enum ${JSON.stringify(schema['enum'])}`);
  }
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) errors.push(`${at}: ${value} < minimum ${schema['minimum']}`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) errors.push(`${at}: ${value} > maximum ${schema['maximum']}`);
  }
  if (typeof value === 'string' && schema['format'] === 'date-time' && (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}T/.test(value))) {
    errors.push(`${at}: '${value}' is not a date-time`);
  }
  if (Array.isArray(value) && schema['items'] && typeof schema['items'] === 'object') {
    value.forEach((item, i) => validateAt({ schema: schema['items'] as Schema, file: s.file }, item, `${at}[${i}]`, opts, errors));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const req of (schema['required'] as string[] | undefined) ?? []) {
      if (!(req in obj)) errors.push(`${at}: missing required '${req}'`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const ps = props?.[k];
      if (ps) {
        const resolved = deref({ schema: ps, file: s.file });
        if (opts.request && (ps['readOnly'] === true || resolved.schema['readOnly'] === true)) errors.push(`${at}.${k}: readOnly property sent in a request`);
        validateAt({ schema: ps, file: s.file }, v, `${at}.${k}`, opts, errors);
      } else if (additional && typeof additional === 'object') {
        validateAt({ schema: additional as Schema, file: s.file }, v, `${at}.${k}`, opts, errors);
      } else if (additional === false) {
        errors.push(`${at}.${k}: additional property not allowed`);
      }
    }
    const disc = schema['discriminator'];
    if (typeof disc === 'string' && typeof obj[disc] === 'string') {
      const sub = discriminatorSubtype(s, obj[disc] as string);
      if (sub && sub.schema !== schema) validateAt({ schema: { ...sub.schema, allOf: [] }, file: sub.file }, value, at, opts, errors, true);
    }
    if (opts.noExtra && !part && !bareObject && additional === undefined && (props || schema['allOf'])) {
      const known = knownProperties(s, obj);
      for (const k of Object.keys(obj)) if (!known.has(k)) errors.push(`${at}.${k}: not declared in the spec`);
    }
  }
}

/** Validates `value` against `#/definitions/{definition}` of a spec file; returns error strings. */
export function validateDefinition(spec: string, definition: string, value: unknown, opts: ValidateOptions = {}): string[] {
  const file = path.join(SPECS_ROOT, spec);
  const errors: string[] = [];
  validateAt(resolveRef(`#/definitions/${definition}`, file), value, '$', opts, errors);
  return [...new Set(errors)];
}

/** The response schema an operation declares, e.g. ('/providers/...', 'post', '200'). */
export function validateOperationResponse(spec: string, pathKey: string, method: string, status: string, value: unknown, opts: ValidateOptions = {}): string[] {
  const file = path.join(SPECS_ROOT, spec);
  const op = ((loadDoc(file)['paths'] as Record<string, Schema>)[pathKey]?.[method] ?? null) as Schema | null;
  if (!op) throw new Error(`no operation ${method} ${pathKey} in ${spec}`);
  const responses = op['responses'] as Record<string, Schema>;
  const resp = responses[status] ?? responses['default'];
  if (!resp?.['schema']) throw new Error(`no schema for ${status}`);
  const errors: string[] = [];
  validateAt({ schema: resp['schema'] as Schema, file }, value, '$', opts, errors);
  return [...new Set(errors)];
}

/** The body parameter schema of an operation. */
export function validateOperationRequest(spec: string, pathKey: string, method: string, value: unknown): string[] {
  const file = path.join(SPECS_ROOT, spec);
  const op = ((loadDoc(file)['paths'] as Record<string, Schema>)[pathKey]?.[method] ?? null) as Schema | null;
  if (!op) throw new Error(`no operation ${method} ${pathKey} in ${spec}`);
  for (const p of (op['parameters'] as Schema[]) ?? []) {
    const param = deref({ schema: p, file });
    if (param.schema['in'] === 'body') {
      const errors: string[] = [];
      validateAt({ schema: param.schema['schema'] as Schema, file: param.file }, value, '$', { request: true, noExtra: true }, errors);
      return [...new Set(errors)];
    }
  }
  throw new Error(`no body parameter for ${method} ${pathKey}`);
}
