import { recommendationCardModel, recommendationSummaryCard, recommendationSummaryModel, renderRecommendation } from '../../cards/recommendationCards.js';
import { MAX_CARD_BYTES } from '../../cards/render.js';
import { groupRecommendations, summarizeRecommendations } from '../../core/recommendations.js';
import type { UnhealthyResource } from '../../core/defender-model.js';
import { cardProblems } from '../cards/validate.js';

const SUB = '3f2b8c1e-5d4a-4e7b-9c21-8a6f0d13b7e2';
const KEY = '1195afff-c881-495e-9bc5-1486211ae03f';

function rows(n: number): UnhealthyResource[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `vm-production-workload-${String(i).padStart(4, '0')}`;
    const resourceId = `/subscriptions/${SUB}/resourceGroups/rg-production-applications-westeurope/providers/Microsoft.Compute/virtualMachines/${name}`;
    return {
      assessmentId: `${resourceId}/providers/Microsoft.Security/assessments/${KEY}`,
      assessmentKey: KEY,
      resourceId,
      resourceName: name,
      resourceType: 'Microsoft.Compute/virtualMachines',
      subscriptionId: SUB,
      resourceGroup: 'rg-production-applications-westeurope',
      severity: 'High',
      status: 'Unhealthy',
      statusChangeDate: '2025-05-01T00:00:00.000Z',
      displayName: 'Machines should have vulnerability findings resolved',
      description: 'x'.repeat(3000),
      remediationSteps: `<ol>${'<li>Step with a fairly long explanation of what to do next</li>'.repeat(80)}</ol>`,
      portalLink: 'https://portal.azure.com/#view/x',
    };
  });
}

const rec300 = groupRecommendations(rows(300), new Date('2025-06-01T00:00:00Z')).get(KEY)!;
const ticketsFor = (ids: string[]) =>
  ids.map((resourceId, i) => ({
    resourceId,
    ticketNumber: `INC00${1000 + i}`,
    ticketLink: `https://dev.service-now.com/incident.do?sys_id=${i}`,
    owner: 'alex@contoso.com',
    dueDate: '2025-07-01',
  }));

type Action = { type: string; title: string; verb?: string; data?: Record<string, unknown> };

describe('recommendation card', () => {
  it.each(['msteams', 'emulator'])('is valid and far below the size limit with 300 resources and tickets (%s)', (channelId) => {
    for (const page of [1, 2, 12]) {
      const card = renderRecommendation(rec300, { channelId }, { page, assignments: ticketsFor(rec300.resources.map((r) => r.resourceId)) });
      expect(cardProblems(card)).toEqual([]);
      expect(JSON.stringify(card)).not.toContain('${');
      expect(Buffer.byteLength(JSON.stringify(card))).toBeLessThan(MAX_CARD_BYTES * 0.75);
    }
  });

  it('lists the page of resources in a multi-select resourceIds choice set with paging actions', () => {
    const card = renderRecommendation(rec300, { channelId: 'msteams' }, { page: 2, subscriptionName: () => 'Contoso Production' });
    const choice = card.body.find((b: any) => b.type === 'Input.ChoiceSet') as any;
    expect(choice).toMatchObject({ id: 'resourceIds', isMultiSelect: true, style: 'expanded' });
    expect(choice.choices).toHaveLength(25);
    expect(choice.choices[0].value).toBe(rec300.resources[25]!.resourceId);
    expect(choice.choices[0].title).toContain('Contoso Production');
    expect(choice.choices[0].title).toContain('rg-production-applications-westeurope');
    const severity = JSON.stringify(card.body[1]);
    expect(severity).toContain('"color":"Attention"');
    expect(JSON.stringify(card)).toContain('Page 2 of 12');
    const actions = card.actions as Action[];
    expect(actions.map((a) => a.title)).toEqual(['Create assignment', 'Open in Defender', 'Refresh', 'Previous', 'Next']);
    expect(actions[0]).toMatchObject({ type: 'Action.Execute', verb: 'createAssignment', data: { recommendationKey: KEY } });
    expect(actions[2]).toMatchObject({ verb: 'refreshRecommendation', data: { recommendationKey: KEY, page: 2 } });
    expect(actions[3]).toMatchObject({ verb: 'refreshRecommendation', data: { page: 1 } });
    expect(actions[4]).toMatchObject({ verb: 'refreshRecommendation', data: { page: 3 } });
    const emulator = renderRecommendation(rec300, { channelId: 'emulator' }, { page: 12 });
    const eActions = emulator.actions as Action[];
    expect(eActions.map((a) => a.title)).toEqual(['Create assignment', 'Open in Defender', 'Refresh', 'Previous']);
    expect(eActions[0]).toMatchObject({ type: 'Action.Submit', data: { verb: 'createAssignment', recommendationKey: KEY } });
  });

  it('shows ticket links of assigned resources on the page', () => {
    const model = recommendationCardModel(rec300, { assignments: ticketsFor([rec300.resources[0]!.resourceId, rec300.resources[100]!.resourceId]) });
    expect(model.assignments.map((a) => a.ticketNumber)).toEqual(['INC001000']);
    const card = renderRecommendation(rec300, { channelId: 'msteams' }, { assignments: ticketsFor([rec300.resources[0]!.resourceId]) });
    expect(JSON.stringify(card)).toContain('[INC001000](https://dev.service-now.com/incident.do?sys_id=0)');
  });

  it('has a resolved variant without inputs or assignment action and a single-page card without paging', () => {
    const resolved = renderRecommendation({ ...rec300, status: 'resolved', resources: [] }, { channelId: 'msteams' });
    expect(cardProblems(resolved)).toEqual([]);
    expect(JSON.stringify(resolved)).toContain('Resolved – all resources healthy');
    expect(resolved.body.some((b: any) => b.type === 'Input.ChoiceSet')).toBe(false);
    expect((resolved.actions as Action[]).map((a) => a.title)).toEqual(['Open in Defender', 'Refresh']);
    const small = groupRecommendations(rows(3), new Date()).get(KEY)!;
    const card = renderRecommendation({ ...small, severity: 'Low' }, { channelId: 'msteams' });
    expect((card.actions as Action[]).map((a) => a.title)).toEqual(['Create assignment', 'Open in Defender', 'Refresh']);
    expect(JSON.stringify(card)).not.toContain('Page 1');
    expect(JSON.stringify(card.body[1])).toContain('"color":"Accent"');
  });
});

describe('recommendation summary card', () => {
  it('is valid and shows counts and the top recommendations', () => {
    const many = groupRecommendations(
      Array.from({ length: 12 }, (_, k) => rows(k + 1).map((r) => ({ ...r, assessmentKey: `key-${k}`, displayName: `Recommendation ${k}` }))).flat(),
      new Date(),
    );
    const model = recommendationSummaryModel(summarizeRecommendations(many.values()), { filtersText: 'severity High' });
    const card = recommendationSummaryCard(model, { channelId: 'msteams' });
    expect(cardProblems(card)).toEqual([]);
    const text = JSON.stringify(card);
    // 78 counts (recommendation, resource) pairs: the same 12 machines fail several recommendations.
    expect(text).toContain('12 recommendations with 78 unhealthy findings on 12 distinct resources (severity High)');
    // Every count reaches the card as text (a number in a TextBlock's text is dropped by the renderers).
    const texts: unknown[] = [];
    JSON.stringify(card, (k, v) => (k === 'text' && texts.push(v), v));
    expect(texts.filter((t) => typeof t !== 'string')).toEqual([]);
    expect(texts).toContain('12 resources');
    expect(text).toContain('Recommendation 11');
    expect(text).not.toContain('Recommendation 1"');
    expect(model.top).toHaveLength(10);
    const empty = recommendationSummaryCard(recommendationSummaryModel(summarizeRecommendations([])), { channelId: 'emulator' });
    expect(cardProblems(empty)).toEqual([]);
    expect(JSON.stringify(empty)).toContain('No unhealthy resources');
  });
});
