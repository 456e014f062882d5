import { z } from 'zod';

export interface BenchArgs {
  names: string[];
  size: number;
  duration?: number;
  out?: string;
  write: boolean;
  updateReadme: boolean;
  profile?: string;
  profilePhase?: string;
  help: boolean;
}

const positive = (flag: string) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .refine((n) => Number.isFinite(n) && n > 0, `${flag} must be a positive number`)
    .refine((n) => n <= 10, `${flag} above 10 would take hours`);

export class ArgsError extends Error {}

/** `npm run bench -- [NAME…] [--size N] [--duration S] [--out FILE] [--no-write] [--update-readme] [--profile TASKS] [--profile-phase PHASES]`. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = { names: [], size: 1, write: true, updateReadme: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') ? (arg.split(/=(.*)/s, 2) as [string, string | undefined]) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new ArgsError(`${flag} needs a value`);
      return v;
    };
    const parse = <T>(schema: z.ZodType<T>, v: string): T => {
      const r = schema.safeParse(v);
      if (!r.success) throw new ArgsError(r.error.issues[0]!.message);
      return r.data;
    };
    switch (flag) {
      case '--size':
        out.size = parse(positive('--size'), value());
        break;
      case '--duration':
        out.duration = parse(
          z.coerce
            .number({ error: '--duration must be a number of seconds' })
            .int('--duration must be whole seconds')
            .min(10, '--duration must be at least 10 s'),
          value(),
        );
        break;
      case '--out':
        out.out = value();
        break;
      case '--no-write':
        out.write = false;
        break;
      case '--update-readme':
        out.updateReadme = true;
        break;
      case '--profile':
        out.profile = value();
        break;
      case '--profile-phase':
        out.profilePhase = value();
        break;
      case '--help':
      case '-h':
        out.help = true;
        break;
      default:
        if (arg.startsWith('-')) throw new ArgsError(`unknown option ${arg}`);
        out.names.push(arg);
    }
  }
  return out;
}
