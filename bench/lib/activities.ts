/** The activities the benchmarks send, shaped as Teams sends them (see test/harness/activities.ts). */
export const BENCH_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const BOT = { id: '28:bench-bot', name: 'Defender bot' };
const USER = { id: '29:bench-user', name: 'Bench User', aadObjectId: '00000000-0000-0000-0000-0000000000b1' };

function base(serviceUrl: string, conversationId: string) {
  return {
    id: 'bench-incoming-1',
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl,
    from: USER,
    recipient: BOT,
    conversation: { id: conversationId, conversationType: 'personal', isGroup: false, tenantId: BENCH_TENANT },
    channelData: { tenant: { id: BENCH_TENANT } },
  };
}

/** A chat message in a 1:1 conversation. */
export function messageActivity(text: string, serviceUrl: string, conversationId = 'a:bench-personal') {
  return { ...base(serviceUrl, conversationId), type: 'message', text };
}

/** What Action.Execute on a card sends. */
export function executeActivity(verb: string, data: Record<string, unknown>, serviceUrl: string, conversationId = 'a:bench-personal') {
  return {
    ...base(serviceUrl, conversationId),
    type: 'invoke',
    name: 'adaptiveCard/action',
    value: { action: { type: 'Action.Execute', id: 'a1', verb, data } },
  };
}

/** The two request kinds of the messages benchmark, as request bodies. */
export function activityBodies(serviceUrl: string): Array<{ name: string; body: string }> {
  return [
    { name: 'help message', body: JSON.stringify(messageActivity('help', serviceUrl)) },
    { name: 'help card action', body: JSON.stringify(executeActivity('help', {}, serviceUrl)) },
  ];
}
