import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  assignmentSchema,
  auditEntrySchema,
  conversationSchema,
  integrationSchema,
  postedCardSchema,
  recommendationSchema,
  reminderSentSchema,
  ruleSchema,
  workItemSchema,
} from '../core/model.js';
import { STORED_FORM_SIGNATURE } from './storedForm.js';

/**
 * The data file: the entities of core/model.ts keyed by id, validated on every start. Bump
 * SCHEMA_VERSION and add a migration in migrations.ts whenever a change would make an older file
 * fail this schema, or would make an older build drop data it does not know (zod strips unknown
 * keys, so a build that predates a table would silently lose it on its next write).
 * Version 4 changed how the file stores assignments (storage/storedForm.ts: arrays of values, not
 * objects); this schema is the rows' in-memory form, which the file's is turned into on reading.
 */
export const SCHEMA_VERSION = 4;

export const databaseSchema = z.object({
  version: z.literal(SCHEMA_VERSION),
  conversations: z.record(z.string(), conversationSchema),
  integrations: z.record(z.string(), integrationSchema),
  recommendations: z.record(z.string(), recommendationSchema),
  postedCards: z.record(z.string(), postedCardSchema),
  assignments: z.record(z.string(), assignmentSchema),
  reminders: z.record(z.string(), reminderSentSchema),
  audit: z.array(auditEntrySchema),
  meta: z.record(z.string(), z.string()).default({}),
  /** The background work queue (app/ports.ts WorkQueue), by item id. Added in version 2. */
  work: z.record(z.string(), workItemSchema),
  /** Governance rules (core/model.ts Rule), by id. Added in version 3. */
  rules: z.record(z.string(), ruleSchema),
});
export type Database = z.infer<typeof databaseSchema>;

export function emptyDatabase(): Database {
  return {
    version: SCHEMA_VERSION,
    conversations: {},
    integrations: {},
    recommendations: {},
    postedCards: {},
    assignments: {},
    reminders: {},
    audit: [],
    meta: {},
    work: {},
    rules: {},
  };
}

let fingerprint: string | undefined;

/**
 * What this build's file schema accepts (types, enums, defaults, required keys, patterns), as a
 * hash. The store seals every file it writes with it (storage/streamingJsonFile.ts): a file whose
 * seal matches holds exactly rows this schema already validated, so a start can skip validating
 * them again. The stored form's field order is part of it (an older seal is never trusted over a
 * changed order). Refinement functions are not part of it: tightening one without a schema change
 * goes with a SCHEMA_VERSION bump (a migration), which changes the fingerprint.
 */
export function schemaFingerprint(): string {
  fingerprint ??= createHash('sha256')
    .update(`${SCHEMA_VERSION}\n${STORED_FORM_SIGNATURE}\n${JSON.stringify(z.toJSONSchema(databaseSchema, { unrepresentable: 'any', io: 'input' }))}`)
    .digest('hex');
  return fingerprint;
}
