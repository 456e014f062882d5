/**
 * `npm run cli -- store migrate --to postgres`: copies DATA_DIR's db.json into the empty
 * PostgreSQL database DATABASE_URL (compose/migrateStore.ts). It holds the data folder's lock
 * meanwhile, so neither the bot nor another command changes the file during the copy, and it
 * leaves the file as it was.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { copyDataFileIntoPostgres, CopyRefusedError, StoreValidationError } from '../compose/migrateStore.js';

export interface StoreCommandIo {
  out(line: string): void;
  err(line: string): void;
}

export const STORE_USAGE = `Usage: npm run cli -- store migrate --to postgres
  Copies DATA_DIR/db.json into the empty PostgreSQL database named by DATABASE_URL (the file is left as it is).`;

const ROLE = '`npm run cli -- store migrate`';

/** Runs `store …` (argv without the word "store"); returns the exit code: 0 done, 1 failed, 2 usage or refused. */
export async function runStoreCommand(argv: string[], env: Record<string, string | undefined>, io: StoreCommandIo): Promise<number> {
  const [verb, ...rest] = argv;
  let to: string | undefined;
  try {
    ({
      values: { to },
    } = parseArgs({ args: rest, options: { to: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  if (verb !== 'migrate') return usage(io, verb === undefined ? 'a store command is required' : `unknown store command "${verb}"`);
  if (to !== 'postgres') return usage(io, to === undefined ? '--to is required' : `--to must be postgres (got "${to}")`);
  const url = env.DATABASE_URL?.trim();
  if (!url) return usage(io, 'DATABASE_URL must name the target database (postgres://user:password@host:5432/database)');
  if (!/^postgres(ql)?:\/\/[^/]/.test(url)) return usage(io, 'DATABASE_URL must be a postgres://user:password@host:port/database URL');

  const dataDir = path.resolve(env.DATA_DIR?.trim() || './data');
  const file = path.join(dataDir, 'db.json');
  if (!existsSync(file)) {
    io.err(`There is no data file at ${file} (DATA_DIR=${dataDir}); nothing to copy.`);
    return 1;
  }
  try {
    const outcome = await copyDataFileIntoPostgres(dataDir, url, ROLE);
    switch (outcome.kind) {
      case 'locked':
        io.err(`Refused: ${outcome.reason} (the copy must read a file nobody changes).`);
        return 2;
      case 'no-file':
        io.err(`There is no data file at ${outcome.file}; nothing to copy.`);
        return 1;
      case 'copied':
        io.out(`Copied ${outcome.file} into ${outcome.target}: ${outcome.counts}.`);
        io.out('Counts verified in PostgreSQL; db.json was not changed.');
        io.out('Run the bot with DATABASE_URL set and the same SECRET_KEY (secrets were copied still encrypted).');
        return 0;
    }
  } catch (err) {
    if (err instanceof CopyRefusedError) io.err(`Refused: ${err.message}.`);
    else if (err instanceof StoreValidationError) io.err(err.message.split('\n')[0]!);
    else io.err(`Error: ${firstLine(err)}`);
    return 1;
  }
}

function usage(io: StoreCommandIo, problem: string): number {
  io.err(`${problem}. ${STORE_USAGE.split('\n')[0]}`);
  return 2;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
