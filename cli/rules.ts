/**
 * `npm run cli -- rule …`: governance rules from the command line (issue 15), through the same use
 * cases as Teams (app/rules.ts, wired by compose/). The CLI manages and previews rules; the bot's
 * sync cycle applies them. Usage errors are one line and exit 2; an unknown integration, scope or
 * recommendation is named.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { cliRuleService } from '../compose/services.js';
import { RuleError, type RuleActor, type RuleDraft } from '../app/rules.js';
import type { Rule } from '../core/model.js';
import { NEEDS_OWNER_TEXT } from '../core/rules.js';
import type { Clock } from '../core/clock.js';
import { CliRefusal, openWorkspace, reportFailure, type CliIo, type Workspace } from './botProcess.js';
import { defenderSource, type DefenderSource } from './sync.js';

export const RULE_USAGE = `  rule add --name NAME --integration INTEGRATION_NAME [--scope SCOPE] [--severity High,Medium]
           [--recommendation KEY_OR_NAME]... (--owner EMAIL | --owner-tag TAG) [--fallback-owner EMAIL]
           --due-days N [--grace] [--notify-owner] [--notify-manager]
           [--ticket-type incident|change_request|problem] [--tickets per-resource|one] [--priority N] [--disabled]
  rule list | rule preview --name NAME | rule enable --name NAME | rule disable --name NAME | rule remove --name NAME
  rule confirm --name NAME    let a paused rule open the tickets beyond RULE_MAX_TICKETS_PER_SYNC
  rule import                 list Defender's governance rules on DEFENDER_SCOPES
  rule import --defender-rule NAME_OR_ID --integration INTEGRATION_NAME [--name NAME] [--enable]`;

class UsageError extends CliRefusal {}

const email = z.email({ error: (i) => `${String(i.input)} is not an e-mail address` });
const severities = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()))
  .pipe(z.array(z.enum(['High', 'Medium', 'Low'], { error: (i) => `--severity: ${String(i.input)} is not High, Medium or Low` })));
const positiveInt = (flag: string, max: number) =>
  z
    .string({ error: `${flag} is required` })
    .regex(/^\d+$/, `${flag} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `${flag} must be 1–${max}`);

const addArgs = z
  .object({
    name: z.string({ error: '--name is required' }).trim().min(1, '--name is required'),
    integration: z.string({ error: '--integration is required' }),
    scope: z.string().optional(),
    severity: severities.optional(),
    recommendation: z.array(z.string()).optional(),
    owner: email.optional(),
    'owner-tag': z.string().optional(),
    'fallback-owner': email.optional(),
    'due-days': positiveInt('--due-days', 365),
    grace: z.boolean().optional(),
    'notify-owner': z.boolean().optional(),
    'notify-manager': z.boolean().optional(),
    'ticket-type': z.enum(['incident', 'change_request', 'problem'], { error: '--ticket-type must be incident, change_request or problem' }).optional(),
    tickets: z.enum(['per-resource', 'one'], { error: '--tickets must be per-resource or one' }).optional(),
    priority: positiveInt('--priority', 1000).optional(),
    disabled: z.boolean().optional(),
  })
  .refine((a) => (a.owner === undefined) !== (a['owner-tag'] === undefined), { message: 'give exactly one of --owner EMAIL or --owner-tag TAG' });

const nameArgs = z.object({ name: z.string({ error: '--name is required' }).min(1, '--name is required') });
const importArgs = z.object({
  'defender-rule': z.string().optional(),
  integration: z.string().optional(),
  name: z.string().optional(),
  enable: z.boolean().optional(),
});

const OPTIONS = {
  name: { type: 'string' },
  integration: { type: 'string' },
  scope: { type: 'string' },
  severity: { type: 'string' },
  recommendation: { type: 'string', multiple: true },
  owner: { type: 'string' },
  'owner-tag': { type: 'string' },
  'fallback-owner': { type: 'string' },
  'due-days': { type: 'string' },
  grace: { type: 'boolean' },
  'notify-owner': { type: 'boolean' },
  'notify-manager': { type: 'boolean' },
  'ticket-type': { type: 'string' },
  tickets: { type: 'string' },
  priority: { type: 'string' },
  disabled: { type: 'boolean' },
  'defender-rule': { type: 'string' },
  enable: { type: 'boolean' },
} as const;

function parse<S extends z.ZodType>(schema: S, values: unknown): z.output<S> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

const WRITES = new Set(['add', 'enable', 'disable', 'remove', 'confirm', 'import']);
const NEEDS_DEFENDER = new Set(['preview', 'import']);

export async function runRuleCommand(args: string[], env: Record<string, string | undefined>, io: CliIo, clock: Clock): Promise<number> {
  let workspace: Workspace | undefined;
  let source: DefenderSource | undefined;
  try {
    const [verb, ...rest] = args;
    if (!verb || !['add', 'list', 'preview', 'enable', 'disable', 'remove', 'confirm', 'import'].includes(verb)) throw new UsageError(`Usage:\n${RULE_USAGE}`);
    let values: Record<string, unknown>;
    try {
      values = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false }).values;
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    // Validate before opening anything: a typo costs no lock and no simulator start.
    const add = verb === 'add' ? parse(addArgs, values) : undefined;
    const named = ['preview', 'enable', 'disable', 'remove', 'confirm'].includes(verb) ? parse(nameArgs, values) : undefined;
    const imp = verb === 'import' ? parse(importArgs, values) : undefined;
    if (imp?.['defender-rule'] && !imp.integration) throw new UsageError('--integration is required with --defender-rule');
    const importing = verb === 'import' && imp?.['defender-rule'] !== undefined;

    workspace = await openWorkspace(
      env,
      clock,
      WRITES.has(verb) && (verb !== 'import' || importing)
        ? (pid, dataDir) => `the bot is running on ${dataDir} (pid ${pid}); use the Teams "rules" command, or stop the bot first`
        : undefined,
      `\`npm run cli -- rule ${verb}\``,
    );
    const { config, logger, store } = workspace;
    if (NEEDS_DEFENDER.has(verb)) source = await defenderSource(config, env, clock);
    const rules = cliRuleService({
      config,
      store,
      secrets: await workspace.secrets(),
      clock,
      logger,
      azure: source?.azure,
      scopes: source?.scopes ?? config.DEFENDER_SCOPES,
    });
    const who: RuleActor = { kind: 'cli', name: `cli:${env.USER ?? 'unknown'}` };

    switch (verb) {
      case 'add': {
        const a = add!;
        const d: RuleDraft = {
          name: a.name,
          integration: a.integration,
          ...(a.scope ? { scope: a.scope } : {}),
          ...(a.severity ? { severities: a.severity } : {}),
          ...(a.recommendation ? { recommendations: a.recommendation } : {}),
          owner: a.owner ? { kind: 'fixed', email: a.owner.toLowerCase() } : { kind: 'tag', tags: a['owner-tag']!.split(',').map((t) => t.trim()) },
          ...(a['fallback-owner'] ? { fallbackOwner: a['fallback-owner'].toLowerCase() } : {}),
          dueInDays: a['due-days'],
          gracePeriod: a.grace === true,
          notifyOwner: a['notify-owner'] === true,
          notifyManager: a['notify-manager'] === true,
          ...(a['ticket-type'] ? { ticketType: a['ticket-type'] } : {}),
          ...(a.tickets ? { ticketGrouping: a.tickets === 'one' ? 'single' : 'perResource' } : {}),
          ...(a.priority ? { priority: a.priority } : {}),
          enabled: a.disabled !== true,
        };
        const rule = await rules.add(d, who);
        io.out(
          `Added rule "${rule.name}" (priority ${rule.priority}, ${rule.scope}), ${rule.enabled ? 'enabled: it assigns on the next sync' : 'disabled: preview it, then enable it'}.`,
        );
        return 0;
      }
      case 'list': {
        const views = await rules.list();
        if (views.length === 0) io.out('No rules. Add one with: npm run cli -- rule add --help');
        for (const v of views) {
          const r = v.rule;
          io.out(
            [
              r.name,
              `priority ${r.priority}`,
              r.enabled ? (r.paused ? `paused (${r.paused.waiting} tickets wait for \`rule confirm\`)` : 'enabled') : 'disabled',
              r.scope,
              `owner ${ownerText(r)}`,
              `integration ${v.integrationName ?? r.integrationId}`,
              `matched ${r.stats.matched}, assigned ${r.stats.assigned}, needs an owner ${r.stats.needsOwner}, last run ${r.stats.lastRunAt ?? 'never'}`,
            ].join('\t'),
          );
          for (const n of v.needsOwner.slice(0, 20)) io.out(`  needs an owner: ${n.resourceName} (${n.recommendationName}): ${n.reason}`);
          if (v.needsOwner.length > 20) io.out(`  …and ${v.needsOwner.length - 20} more`);
        }
        return 0;
      }
      case 'preview': {
        const p = await rules.preview(named!.name);
        io.out(
          `Rule "${p.ruleName}" would assign ${p.assignments} finding(s) in ${p.tickets} ticket(s) now${p.beyondCap ? ` (${p.beyondCap} beyond RULE_MAX_TICKETS_PER_SYNC wait for a confirmation)` : ''}; ${p.needsOwner.length} need an owner; ${p.alreadyAssigned} already assigned.`,
        );
        for (const r of p.byRecommendation) io.out(`  ${r.severity}\t${r.recommendationName}\t${r.assignments}`);
        for (const o of p.byOwner) io.out(`  owner ${o.owner}\t${o.assignments}`);
        for (const s of p.sample) io.out(`  - ${s.resourceName}\t${s.recommendationName}\t→ ${s.owner} (${s.ownerSource})`);
        for (const n of p.needsOwner.slice(0, 20)) io.out(`  needs an owner: ${n.finding.resourceName}: ${n.detail || NEEDS_OWNER_TEXT[n.reason]}`);
        for (const t of p.takenByEarlierRules) io.out(`  ${t.count} taken by the earlier rule "${t.ruleName}"`);
        io.out('Nothing was created.');
        return 0;
      }
      case 'enable':
      case 'disable': {
        io.out((await rules.setEnabled(named!.name, verb === 'enable', who)).message);
        return 0;
      }
      case 'remove': {
        io.out(await rules.remove(named!.name, who));
        return 0;
      }
      case 'confirm': {
        const { rule, waiting } = await rules.confirm(named!.name, who);
        io.out(`Confirmed: rule "${rule.name}" opens the ${waiting} waiting ticket(s) on the next sync.`);
        return 0;
      }
      case 'import': {
        if (!importing) {
          const { rules: defender, problems } = await rules.defenderRules();
          if (defender.length === 0) io.out('No Defender governance rules on the configured scopes.');
          for (const d of defender)
            io.out(
              `${d.properties.displayName}\tpriority ${d.properties.rulePriority}\t${d.properties.isDisabled ? 'disabled' : 'enabled'}\towner ${d.properties.ownerSource.type ?? '?'} ${d.properties.ownerSource.value ?? ''}\t${d.id}`,
            );
          for (const p of problems) io.err(`skipped: ${p}`);
          return 0;
        }
        const { rule, warnings } = await rules.importDefender(
          imp!['defender-rule']!,
          { integration: imp!.integration!, ...(imp!.name ? { name: imp!.name } : {}), ...(imp!.enable ? { enable: true } : {}) },
          who,
        );
        io.out(`Imported Defender's rule as "${rule.name}" (${rule.enabled ? 'enabled' : 'disabled: preview it, then enable it'}).`);
        for (const w of warnings) io.out(`  note: ${w}`);
        return 0;
      }
    }
    throw new UsageError(`Usage:\n${RULE_USAGE}`);
  } catch (err) {
    if (err instanceof RuleError) {
      io.err(`Error: ${err.message}`);
      return err.kind === 'usage' ? 2 : 1;
    }
    return reportFailure(err, io);
  } finally {
    await workspace?.close();
    await source?.close();
  }
}

function ownerText(r: Rule): string {
  const base = r.owner.kind === 'fixed' ? r.owner.email : `tag ${r.owner.tags.join('/')}`;
  return r.fallbackOwner ? `${base}, else ${r.fallbackOwner}` : base;
}
