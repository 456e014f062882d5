import { crc32, inflateRawSync } from 'node:zlib';

/** Test-side zip reader: walks the central directory like an unzip tool does. */
export function unzip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let off = zip.readUInt32LE(eocd + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(off) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = zip.readUInt16LE(off + 10);
    const crc = zip.readUInt32LE(off + 16);
    const csize = zip.readUInt32LE(off + 20);
    const size = zip.readUInt32LE(off + 24);
    const nameLen = zip.readUInt16LE(off + 28);
    const extraLen = zip.readUInt16LE(off + 30);
    const commentLen = zip.readUInt16LE(off + 32);
    const localOff = zip.readUInt32LE(off + 42);
    const name = zip.toString('utf8', off + 46, off + 46 + nameLen);
    if (zip.readUInt32LE(localOff) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const dataStart = localOff + 30 + zip.readUInt16LE(localOff + 26) + zip.readUInt16LE(localOff + 28);
    const comp = zip.subarray(dataStart, dataStart + csize);
    const data = method === 8 ? inflateRawSync(comp) : method === 0 ? Buffer.from(comp) : undefined;
    if (!data) throw new Error(`unsupported method ${method}`);
    if (data.length !== size || crc32(data) !== crc) throw new Error(`${name}: size or CRC mismatch`);
    files.set(name, data);
    off += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}
