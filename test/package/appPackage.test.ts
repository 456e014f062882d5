import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppManifestUtils } from '@microsoft/app-manifest';
import { draw, outlinePainter, colorPainter, BRAND } from '../../appPackage/icons/generate.js';
import { buildAppPackage, fillTemplate, PackageError, readPackageEnv } from '../../appPackage/package.js';
import { encodePng } from '../../appPackage/png.js';
import { createZip } from '../../appPackage/zip.js';
import { startBot, type BotHarness } from '../harness/botHarness.js';
import { decodePng, readIhdr } from './pngDecode.js';
import { unzip } from './unzip.js';

const APP_DIR = path.resolve(__dirname, '../../appPackage');
const ENV = {
  TEAMS_APP_ID: '5b2f0a1c-7d3e-4f21-9a8b-0c1d2e3f4a5b',
  MicrosoftAppId: '8e3c1f0a-2b4d-4c6e-8f10-a1b2c3d4e5f6',
  PUBLIC_URL: 'https://defender-bot.contoso.com/',
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'app-package-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function build(env: Record<string, string | undefined> = ENV) {
  const outFile = path.join(tmp, `pkg-${Math.random().toString(36).slice(2)}`, 'appPackage.zip');
  return buildAppPackage({ env, appDir: APP_DIR, outFile, defaultVersion: '0.1.0' });
}

describe('Teams app package', () => {
  it('zips manifest.json and both icons at the archive root, with every placeholder filled', async () => {
    const built = await build();
    const files = unzip(readFileSync(built.file));
    expect([...files.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const text = files.get('manifest.json')!.toString('utf8');
    expect(text).not.toMatch(/\$\{\{/);
    const m = JSON.parse(text);
    expect(m.id).toBe(ENV.TEAMS_APP_ID);
    expect(m.version).toBe('0.1.0');
    expect(m.bots[0].botId).toBe(ENV.MicrosoftAppId);
    expect(m.bots[0].scopes.sort()).toEqual(['groupChat', 'personal', 'team']);
    expect(m.validDomains).toEqual(['defender-bot.contoso.com']);
    expect(m.staticTabs.find((t: any) => t.entityId === 'dashboard')).toMatchObject({
      name: 'Dashboard',
      contentUrl: 'https://defender-bot.contoso.com/tab',
      scopes: ['personal'],
    });
    expect(m.configurableTabs[0]).toMatchObject({ configurationUrl: 'https://defender-bot.contoso.com/tab/config' });
    expect(m.configurableTabs[0].scopes).toContain('team');
    expect(m.webApplicationInfo).toEqual({ id: ENV.MicrosoftAppId, resource: `api://defender-bot.contoso.com/${ENV.MicrosoftAppId}` });
    // The icons in the zip are the committed files, byte for byte.
    expect(files.get('color.png')!.equals(readFileSync(path.join(APP_DIR, 'color.png')))).toBe(true);
    expect(files.get('outline.png')!.equals(readFileSync(path.join(APP_DIR, 'outline.png')))).toBe(true);
  });

  it('produces a manifest the official schema accepts offline, on the schema it names', async () => {
    const { manifest } = await build({ ...ENV, APP_VERSION: '2.3.4', APP_ID_URI: 'api://custom.contoso.com/abc' });
    expect(manifest.$schema).toBe('https://developer.microsoft.com/json-schemas/teams/v1.30/MicrosoftTeams.schema.json');
    const schemaFile = require.resolve('@microsoft/app-manifest/build/json-schemas/teams/v1.30/MicrosoftTeams.schema.json');
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    expect(await AppManifestUtils.validateAgainstSchema(manifest as never, schema)).toEqual([]);
    expect(manifest.version).toBe('2.3.4');
    expect((manifest.webApplicationInfo as any).resource).toBe('api://custom.contoso.com/abc');
    // The same check catches a broken manifest: the schema limits the short name to 30 characters.
    const broken = { ...manifest, name: { short: 'x'.repeat(31) } };
    expect((await AppManifestUtils.validateAgainstSchema(broken as never, schema)).join('\n')).toMatch(/name\/short/);
  });

  it('lists every missing or invalid variable in one clear error, without echoing values', async () => {
    const err = await build({ PUBLIC_URL: 'http://not-https.example', MicrosoftAppId: 'super-secret-not-a-guid' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackageError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/TEAMS_APP_ID: is required/);
    expect(msg).toMatch(/MicrosoftAppId: must be a GUID/);
    expect(msg).toMatch(/PUBLIC_URL: must be an https:\/\/ URL/);
    expect(msg).not.toContain('super-secret');
    expect(() => readPackageEnv({ ...ENV, TEAMS_APP_ID: '  ' })).toThrow(/TEAMS_APP_ID: is required/);
  });

  it('refuses a template placeholder that has no value', () => {
    expect(() => fillTemplate('{"a":"${{NOPE}}","b":"${{X}}"}', { X: 'q"uote' })).toThrow(/NOPE/);
    expect(JSON.parse(fillTemplate('{"b":"${{X}}"}', { X: 'q"uote' }))).toEqual({ b: 'q"uote' });
  });

  describe('command list matches the bot', () => {
    let bot: BotHarness;
    beforeAll(async () => {
      bot = await startBot();
    });
    afterAll(async () => {
      await bot.stop();
      await bot.connector.close();
    });

    it('offers exactly the commands the running bot registers (sandbox-only ones excepted), within schema limits', async () => {
      const { manifest } = await build();
      const lists = (manifest.bots as any[])[0].commandLists as Array<{ commands: Array<{ title: string; description: string }> }>;
      const registered = bot.app.commands
        .list()
        .map((c) => c.name)
        .filter((n) => n !== 'simulate');
      for (const list of lists) {
        expect(list.commands.length).toBeLessThanOrEqual(10);
        expect(list.commands.map((c) => c.title).sort()).toEqual([...registered].sort());
        for (const c of list.commands) expect(c.description.length).toBeLessThanOrEqual(128);
      }
    });
  });
});

describe('icons', () => {
  it('are a 192×192 colour icon on an opaque brand background and a 32×32 outline icon', () => {
    const color = readFileSync(path.join(APP_DIR, 'color.png'));
    const outline = readFileSync(path.join(APP_DIR, 'outline.png'));
    expect(readIhdr(color)).toMatchObject({ width: 192, height: 192 });
    expect(readIhdr(outline)).toMatchObject({ width: 32, height: 32 });
    const c = decodePng(color);
    let translucent = 0;
    for (let i = 3; i < c.rgba.length; i += 4) if (c.rgba[i] !== 255) translucent++;
    expect(translucent).toBe(0);
    expect([...c.rgba.subarray(0, 3)]).toEqual([...BRAND]); // corner = background
  });

  it('outline.png is white on transparent: every pixel is fully transparent or white', () => {
    const o = decodePng(readFileSync(path.join(APP_DIR, 'outline.png')));
    let opaqueWhite = 0;
    let transparent = 0;
    let notWhite = 0;
    for (let i = 0; i < o.rgba.length; i += 4) {
      const [r, g, b, a] = [o.rgba[i], o.rgba[i + 1], o.rgba[i + 2], o.rgba[i + 3]];
      if (a === 0) transparent++;
      else if (r !== 255 || g !== 255 || b !== 255) notWhite++;
      else if (a === 255) opaqueWhite++;
    }
    expect(notWhite).toBe(0);
    // A real drawing, not an empty or filled square.
    expect(opaqueWhite).toBeGreaterThan(60);
    expect(transparent).toBeGreaterThan(500);
  });

  it('are what the generator draws (the committed PNGs are up to date)', () => {
    expect(encodePng(draw(192, colorPainter)).equals(readFileSync(path.join(APP_DIR, 'color.png')))).toBe(true);
    expect(encodePng(draw(32, outlinePainter)).equals(readFileSync(path.join(APP_DIR, 'outline.png')))).toBe(true);
  });

  it('the zip writer round-trips arbitrary content through a standard reader', () => {
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256));
    const files = unzip(
      createZip([
        { name: 'a.bin', data },
        { name: 'empty.txt', data: Buffer.alloc(0) },
      ]),
    );
    expect(files.get('a.bin')!.equals(data)).toBe(true);
    expect(files.get('empty.txt')!.length).toBe(0);
    expect(() => createZip([{ name: 'dir/x', data }])).toThrow(/root/);
  });

  it('the zip writer writes the same bytes on every build, dated 2020-01-01, and refuses a name given twice', () => {
    const entries = [{ name: 'manifest.json', data: Buffer.from('{}') }];
    const zip = createZip(entries);
    expect(zip.equals(createZip(entries))).toBe(true);
    const dosDate = zip.readUInt16LE(12); // the local header's last-modified date
    expect([(dosDate >> 9) + 1980, (dosDate >> 5) & 15, dosDate & 31]).toEqual([2020, 1, 1]);
    expect(() => createZip([...entries, ...entries])).toThrow(/given twice/);
  });
});
