import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { assignmentFormCard, assignmentListCard, assignmentResultCard, confirmCard } from '../../cards/assignmentCards.js';
import { dueDateRequestCard } from '../../cards/dueDateCards.js';
import { errorCard, helpCard, noticeCard, welcomeCard, welcomeHints } from '../../cards/index.js';
import { integrationFormCard, integrationListCard, INTEGRATION_FORM_FIELDS } from '../../cards/integrationCards.js';
import { recommendationCard, recommendationSummaryCard, recommendationSummaryModel } from '../../cards/recommendationCards.js';
import { summarizeRecommendations } from '../../core/recommendations.js';
import { channelDigestCard, channelDigestModel } from '../../cards/channelDigestCards.js';
import { graceEndedCard, managerDigestCard, moreTimeFormCard, nudgeCard, ownerDigestCard } from '../../cards/reminderCards.js';
import type { AdaptiveCard } from '../../cards/render.js';
import { RULE_FORM_FIELDS, ruleFormCard } from '../../cards/ruleCards.js';
import { cardProblems } from './validate.js';

/**
 * Every template rendered with its optional fields absent and its "shown when set" strings empty:
 * no text may come out empty, as a bare label ("Reference: ") or as an unexpanded binding. A
 * `$when` written as `x != ''` is true when x is missing, which printed "Reference:" under every
 * error card; `!empty(x)` is false for missing, null and ''.
 */
const CARDS = path.join(__dirname, '../../cards');
const V = {
  integrationId: '',
  ticketType: 'incident',
  assignedTo: '',
  caller: '',
  shortDescription: 's',
  description: 'd',
  dueDate: '',
  grouping: 'perResource',
};

const MINIMAL: Record<string, (channelId: string) => AdaptiveCard> = {
  'error.json': (c) => errorCard({ title: 'Not allowed', message: 'Nothing was changed.', details: [] }, { channelId: c }),
  'help.json': (c) => helpCard({ commands: [{ name: 'help', usage: 'help', description: 'Show commands' }], sandbox: false }, { channelId: c }),
  'welcome.json': (c) => welcomeCard({ where: 'this chat', posts: [], sandbox: false, ...welcomeHints('personal', 'Bot') }, { channelId: c }),
  'notice.json': (c) => noticeCard({ title: 'Done', text: '', facts: [] }, { channelId: c }),
  'confirm.json': (c) =>
    confirmCard(
      { title: 'Sure?', text: 'This removes it.', confirmTitle: 'Remove', confirmVerb: 'x', confirmData: {}, cancelVerb: 'y', cancelData: {} },
      { channelId: c },
    ),
  'channelDigest.json': (c) => channelDigestCard(channelDigestModel(summarizeRecommendations([]), { botName: 'Bot' }), { channelId: c }),
  'recommendation.json': (c) =>
    recommendationCard(
      {
        key: 'k',
        displayName: 'Rec',
        severity: 'Low',
        severityColor: 'Accent',
        statusText: '1 unhealthy resource',
        resolved: false,
        description: '',
        remediation: '',
        portalLink: 'https://portal.azure.com',
        resourcesLabel: 'Unhealthy resources',
        resources: [{ resourceId: '/r', title: 'vm-1' }],
        selectedElsewhere: [],
        selectedValue: '',
        allTitle: '',
        assignments: [{ resourceId: '/r', resourceName: 'vm-1', ticketNumber: 'INC1', ticketLink: 'https://x', owner: 'o@x.com', dueDate: '2026-12-01' }],
        page: 1,
        pages: 1,
        total: 1,
      },
      { channelId: c },
    ),
  'recommendationSummary.json': (c) => recommendationSummaryCard(recommendationSummaryModel(summarizeRecommendations([])), { channelId: c }),
  'assignmentForm.json': (c) =>
    assignmentFormCard(
      {
        recommendationKey: 'k',
        recommendationName: 'Rec',
        severity: 'High',
        resourceSummary: 'vm-1',
        resourceIdsCsv: '/r',
        ticketWord: 'ticket',
        integrations: [{ title: 'I', value: 'i' }],
        customized: true,
        minDate: '2026-11-27',
        maxDate: '2027-11-27',
        errors: {},
        values: { ...V, gracePeriod: 'false', notifyOwner: 'true', notifyManager: 'false', assignmentGroup: '', impact: '', urgency: '' },
      },
      { channelId: c },
    ),
  'assignmentResult.json': (c) =>
    assignmentResultCard(
      {
        title: 'Done',
        color: 'Good',
        recommendationKey: 'k',
        recommendationName: 'Rec',
        batchId: 'b',
        failed: 0,
        items: [{ resourceName: 'vm-1', ticketNumber: '', ticketLink: '', owner: 'o@x.com', dueDate: '2026-12-01', note: '', error: 'failed' }],
      },
      { channelId: c },
    ),
  'assignmentList.json': (c) =>
    assignmentListCard(
      {
        title: 'Open assignments',
        summary: '1 open',
        more: 0,
        rows: [
          {
            recommendation: 'Rec',
            resource: 'vm-1',
            severity: 'High',
            owner: 'o@x.com',
            dueDate: '2026-12-01',
            dueText: 'in 5 days',
            grace: '',
            status: 'Open',
            color: 'Default',
            ticketNumber: '',
            ticketLink: '',
          },
        ],
      },
      { channelId: c },
    ),
  'digest.json': (c) =>
    ownerDigestCard(
      {
        greeting: 'Hi',
        headline: '1 open',
        intro: 'Due soon.',
        needsOwner: [],
        groups: [
          {
            title: 'Later (1)',
            color: 'Default',
            items: [
              {
                assignmentId: 'a',
                title: 'Rec',
                resource: 'vm-1',
                severity: 'Low',
                dueText: '2026-12-01 · 5 days left',
                grace: 'No grace period',
                ticketText: 'not created yet',
                ticketLink: '',
                defenderLink: 'https://portal.azure.com',
                etaText: '',
              },
            ],
          },
        ],
        moreText: '',
        footer: 'Weekly.',
      },
      { channelId: c },
    ),
  'nudge.json': (c) =>
    nudgeCard(
      { headline: 'Reminder', items: [{ assignmentId: 'a', title: 'Rec', detail: 'vm-1', ticketLink: '', defenderLink: 'https://portal.azure.com' }] },
      { channelId: c },
    ),
  'managerDigest.json': (c) =>
    managerDigestCard(
      { greeting: 'Hi', headline: '1 overdue', intro: 'Overdue.', reports: [{ title: 'o: 1 overdue', lines: ['- x'] }], footer: 'Weekly.' },
      { channelId: c },
    ),
  'graceEnded.json': (c) => graceEndedCard({ headline: 'Grace period ended', text: 'Now counts.', lines: ['- x'] }, { channelId: c }),
  'moreTime.json': (c) =>
    moreTimeFormCard(
      {
        assignmentId: 'a',
        title: 'Rec',
        resource: 'vm-1',
        dueText: '2026-12-01',
        etaText: '',
        minDate: '2026-11-27',
        maxDate: '2027-11-26',
        suggestedDate: '2026-12-08',
      },
      { channelId: c },
    ),
  'dueDateRequest.json': (c) =>
    dueDateRequestCard(
      {
        assignmentId: 'a',
        headline: 'o asks for more time',
        owner: 'o@x.com',
        recommendation: 'Rec',
        resource: 'vm-1',
        ticketText: 'not created yet',
        dueText: '2026-12-01',
        eta: '2026-12-08',
        minDate: '2026-11-27',
        maxDate: '2027-11-26',
        adminNote: 'Admins decide.',
      },
      { channelId: c },
    ),
  'integrationList.json': (c) =>
    integrationListCard({ summary: 'No integration yet.', noticeText: '', noticeStyle: 'default', integrations: [] }, { channelId: c }),
  'integrationForm.json': (c) =>
    integrationFormCard(
      {
        problems: [],
        errors: Object.fromEntries(INTEGRATION_FORM_FIELDS.map((f) => [f, ''])) as never,
        retypeSecrets: false,
        scopePlaceholder: '/subscriptions/{id}',
        scopeForms: [],
        knownScopes: [],
        values: {
          name: '',
          scope: '',
          knownScope: '',
          instanceUrl: '',
          username: '',
          clientId: '',
          fieldMode: 'default',
          customIncident: '',
          customProblem: '',
          customChange: '',
        },
      },
      { channelId: c },
    ),
};

MINIMAL['ruleForm.json'] = (c) =>
  ruleFormCard(
    {
      ruleId: '',
      values: Object.fromEntries(RULE_FORM_FIELDS.map((f) => [f, ''])) as never,
      errors: {},
      problems: [],
      integrations: [],
      recommendationChoices: [],
      capPlaceholder: 'default 50',
    },
    { channelId: c },
  );

const templates = readdirSync(CARDS).filter((f) => f.endsWith('.json'));

/** Text left when every binding of a template text expands to nothing ("Reference: ", "⚠️ "). */
function skeletons(template: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    for (const key of ['text', 'title', 'value', 'label']) {
      const v = o[key];
      if (typeof v === 'string' && v.includes('${')) out.add(v.replace(/\$\{[^}]*\}/g, '').trim());
    }
    Object.values(o).forEach(walk);
  };
  walk(template);
  out.delete('');
  return out;
}

/** Every text a person reads: TextBlocks, facts, input labels, choice and toggle titles. */
function readTexts(card: unknown): Array<{ where: string; text: unknown }> {
  const out: Array<{ where: string; text: unknown }> = [];
  const walk = (n: unknown, where: string) => {
    if (Array.isArray(n)) return n.forEach((x, i) => walk(x, `${where}[${i}]`));
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (o.type === 'TextBlock') out.push({ where: `${where} TextBlock`, text: o.text });
    if (typeof o.type === 'string' && o.type.startsWith('Input.') && 'label' in o) out.push({ where: `${where} ${o.type} label`, text: o.label });
    if (o.type === 'Input.Toggle') out.push({ where: `${where} Toggle title`, text: o.title });
    if (Array.isArray(o.facts))
      for (const f of o.facts as Array<Record<string, unknown>>)
        out.push({ where: `${where} fact`, text: f.title }, { where: `${where} fact ${String(f.title)}`, text: f.value });
    if (Array.isArray(o.choices)) for (const c of o.choices as Array<Record<string, unknown>>) out.push({ where: `${where} choice`, text: c.title });
    for (const [k, v] of Object.entries(o)) if (k !== 'facts' && k !== 'choices') walk(v, `${where}.${k}`);
  };
  walk(card, '');
  return out;
}

describe('templates with their optional fields absent', () => {
  it('every template has a minimal sample here', () => {
    expect(templates.filter((t) => !MINIMAL[t])).toEqual([]);
  });

  it('no $when compares with an empty string (true when the field is missing); use !empty(x)', () => {
    const wrong = templates.flatMap((t) =>
      [...readFileSync(path.join(CARDS, t), 'utf8').matchAll(/"\$when":\s*"([^"]*)"/g)].filter((m) => /[!=]=\s*''/.test(m[1]!)).map((m) => `${t}: ${m[1]}`),
    );
    expect(wrong).toEqual([]);
  });

  it.each(templates)('%s: no empty text, bare label or unexpanded binding, in Teams and elsewhere', (t) => {
    const template = JSON.parse(readFileSync(path.join(CARDS, t), 'utf8'));
    const bare = skeletons(template);
    for (const channel of ['msteams', 'webchat']) {
      const card = MINIMAL[t]!(channel);
      expect(cardProblems(card)).toEqual([]);
      const bad = readTexts(card).filter(({ text }) => typeof text !== 'string' || !text.trim() || text.includes('${') || bare.has(text.trim()));
      expect(bad.map((b) => `${channel}${b.where}: ${JSON.stringify(b.text)}`)).toEqual([]);
    }
  });
});
