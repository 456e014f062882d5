import { zipSync } from 'fflate';

export interface ZipEntry {
  name: string;
  data: Buffer;
}

/**
 * A Teams app package: its files at the archive root (Teams refuses folders), deflated by fflate.
 * A fixed timestamp keeps builds reproducible; zip stores local time, so the default is local
 * midnight of 2020-01-01 and every time zone writes the same bytes.
 */
export function createZip(entries: readonly ZipEntry[], date = new Date(2020, 0, 1)): Buffer {
  const files: Record<string, Uint8Array> = {};
  for (const entry of entries) {
    if (entry.name.includes('/') || entry.name.includes('\\')) throw new Error(`zip entry ${entry.name} must be at the root`);
    if (Object.hasOwn(files, entry.name)) throw new Error(`zip entry ${entry.name} is given twice`);
    files[entry.name] = entry.data;
  }
  return Buffer.from(zipSync(files, { level: 9, mtime: date }));
}
