/** Builders for the Bot Framework activities the Emulator and Teams send. */
let seq = 0;
const nextId = () => `incoming-${++seq}`;

export interface ActivityOptions {
  serviceUrl: string;
  channelId?: 'msteams' | 'emulator' | 'webchat';
  conversationId?: string;
  conversationType?: 'personal' | 'channel' | 'groupChat';
  tenantId?: string;
  from?: { id: string; name?: string; aadObjectId?: string };
  replyToId?: string;
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const BOT = { id: '28:bot-app-id', name: 'Defender bot' };
export const USER = { id: '29:user-1', name: 'Ada Admin', aadObjectId: '00000000-0000-0000-0000-0000000000a1' };

function base(o: ActivityOptions) {
  const channelId = o.channelId ?? 'msteams';
  const isTeams = channelId === 'msteams';
  const conversationType = o.conversationType ?? 'personal';
  return {
    id: nextId(),
    timestamp: new Date().toISOString(),
    channelId,
    serviceUrl: o.serviceUrl,
    from: o.from ?? USER,
    recipient: BOT,
    conversation: {
      id: o.conversationId ?? (conversationType === 'channel' ? '19:channel-1@thread.tacv2' : 'a:personal-1'),
      conversationType: isTeams ? conversationType : undefined,
      isGroup: conversationType !== 'personal',
      tenantId: isTeams ? (o.tenantId ?? TENANT) : undefined,
    },
    channelData: isTeams
      ? {
          tenant: { id: o.tenantId ?? TENANT },
          ...(conversationType === 'channel'
            ? { channel: { id: '19:channel-1@thread.tacv2', name: 'Security' }, team: { id: '19:team-1@thread.tacv2', name: 'SecOps' } }
            : {}),
        }
      : undefined,
    ...(o.replyToId ? { replyToId: o.replyToId } : {}),
  };
}

export function message(text: string, o: ActivityOptions) {
  return { ...base(o), type: 'message', text };
}

/** What Action.Submit sends: a message whose value holds the card data and inputs. */
export function submit(value: Record<string, unknown>, o: ActivityOptions) {
  return { ...base(o), type: 'message', value };
}

/** What Action.Execute sends in Teams. */
export function execute(verb: string, data: Record<string, unknown>, o: ActivityOptions) {
  return { ...base(o), type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', id: 'a1', verb, data } } };
}

export function botAdded(o: ActivityOptions) {
  return { ...base(o), type: 'conversationUpdate', membersAdded: [BOT] };
}

export function botRemoved(o: ActivityOptions) {
  return { ...base(o), type: 'conversationUpdate', membersRemoved: [BOT] };
}

export function installationUpdate(action: 'add' | 'remove', o: ActivityOptions) {
  return { ...base(o), type: 'installationUpdate', action };
}

export { TENANT };
