/**
 * Upgrades a raw data file from an older schema version, one step at a time. Each entry turns
 * version N into N+1; the result is validated against the current schema afterwards.
 */
export type Migration = (data: Record<string, unknown>) => Record<string, unknown>;

export const migrations: Record<number, Migration> = {
  // 2 added the background work queue.
  1: (data) => ({ ...data, work: {} }),
  // 3 added governance rules.
  2: (data) => ({ ...data, rules: {} }),
  // 4 stores assignments in a compact form (storage/storedForm.ts). Migrations work on the rows'
  // full form, which a version-4 file is read into first, so nothing changes here; the bump is
  // what makes an older build refuse the new file instead of misreading it, and the first start
  // rewrites a version-3 file in the new form after keeping it as db.json.bak.
  3: (data) => data,
};

export function migrate(
  raw: Record<string, unknown>,
  targetVersion: number,
  steps: Record<number, Migration> = migrations,
): { data: Record<string, unknown>; from: number } {
  const from = typeof raw.version === 'number' ? raw.version : NaN;
  if (!Number.isInteger(from)) throw new Error('the file has no numeric "version" field');
  if (from > targetVersion) {
    throw new Error(`the file is schema version ${from}, newer than this build understands (${targetVersion}); run a newer version of the bot`);
  }
  let data = raw;
  for (let v = from; v < targetVersion; v++) {
    const step = steps[v];
    if (!step) throw new Error(`no migration from schema version ${v} to ${v + 1}`);
    data = { ...step(data), version: v + 1 };
  }
  return { data, from };
}
