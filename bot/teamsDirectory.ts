import { TeamsInfo, TurnContext, type CloudAdapter, type ConversationParameters, type ConversationReference } from 'botbuilder';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Caller, DefenderPort, Directory, Store } from '../app/ports.js';
import type { Conversation } from '../core/model.js';

export interface TeamsDirectoryDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The Teams connection for roster look-ups and new 1:1 chats; without it only stored chats are found. */
  adapter?: CloudAdapter;
  appId?: string;
  /** Sandbox: one stored conversation (an Emulator chat) is everybody's inbox (SANDBOX_REMINDER_INBOX). */
  sandboxInbox?: string;
  /** Sandbox: who a caller outside Teams or without an Entra identity is (SANDBOX_EMULATOR_UPN). */
  emulatorUpn?: string;
  /** Microsoft Graph's users (the Azure client): turns a people picker's object id into a UPN. */
  users?: Pick<DefenderPort, 'getUser'>;
}

/**
 * The one answer to "who is this user, and where is their 1:1 chat" (the Directory port). People
 * are known by the personal conversations the bot stores (with the user's UPN and Entra object
 * id). An owner without one is looked up in the roster of a team or group chat where the bot is
 * installed (TeamsInfo.getMember accepts a UPN) and a 1:1 conversation is created with the tenant
 * id and remembered. Owners found nowhere are reported by the reminder job, never retried in a loop.
 */
export class TeamsDirectory implements Directory {
  /**
   * Who the sender of a turn is, from the chat's roster: Teams does not put the UPN on message
   * activities. The bot asks once per personal chat (the caller checks whether it already knows
   * the chat's user) and stores the answer with the conversation, where upnOf finds it later.
   */
  static async senderUpn(ctx: TurnContext, logger: Logger): Promise<string | undefined> {
    if (ctx.activity.channelId !== 'msteams') return undefined;
    try {
      const member = await TeamsInfo.getMember(ctx, ctx.activity.from.id);
      return member.userPrincipalName ?? member.email ?? undefined;
    } catch (err) {
      logger.debug({ err }, 'could not read the user from the roster');
      return undefined;
    }
  }

  /** UPNs looked up and not found during this pass: asked once per pass, not once per item. */
  private missing = new Set<string>();

  /** Only with Graph (the Azure client); otherwise a picked person's id stays and the form says so. */
  readonly upnOfObjectId?: (objectId: string) => Promise<string | undefined>;

  constructor(private readonly deps: TeamsDirectoryDeps) {
    const { users } = deps;
    if (users) this.upnOfObjectId = async (objectId) => (await users.getUser(objectId))?.userPrincipalName;
  }

  refresh(): void {
    this.missing = new Set();
  }

  async upnOf(caller: Caller): Promise<string | undefined> {
    const { store, emulatorUpn } = this.deps;
    if (caller.conversationId) {
      const here = await store.conversations.get(caller.conversationId);
      if (here?.kind === 'personal' && here.userUpn) return here.userUpn;
    }
    const aad = caller.actor.aadObjectId;
    if (aad) {
      const mine = (await store.conversations.list({ kinds: ['personal'], userAadObjectId: aad })).find((c) => c.userUpn);
      if (mine?.userUpn) return mine.userUpn;
    }
    // The Emulator has no Entra identity and no UPN: in the sandbox its user is the configured one.
    if (emulatorUpn && (!aad || (caller.channelId !== undefined && caller.channelId !== 'msteams'))) return emulatorUpn;
    return undefined;
  }

  async objectIdOf(upn: string): Promise<string | undefined> {
    return (await this.deps.store.conversations.list({ kinds: ['personal'], userUpn: upn })).find((c) => c.userAadObjectId)?.userAadObjectId;
  }

  async personalConversationOf(upn: string, opts: { create?: boolean } = {}): Promise<string | undefined> {
    const { store, sandboxInbox } = this.deps;
    if (sandboxInbox) return (await store.conversations.get(sandboxInbox)) ? sandboxInbox : undefined;
    const chats = await store.conversations.list({ kinds: ['personal'], userUpn: upn });
    const known = chats.find((c) => !c.unreachable) ?? chats[0];
    if (known || !opts.create || !this.deps.adapter) return known?.id;
    const key = upn.toLowerCase();
    if (this.missing.has(key)) return undefined;
    for (const roster of await this.rosters()) {
      const member = await this.lookup(roster, upn);
      if (!member) continue;
      const created = await this.createPersonalChat(roster, member, upn);
      if (created) return created;
    }
    this.missing.add(key);
    return undefined;
  }

  /** Team channels and group chats in Teams, where a roster can be asked. */
  private async rosters(): Promise<Conversation[]> {
    const shared = await this.deps.store.conversations.list({ channelId: 'msteams', kinds: ['channel', 'groupChat'], reachable: true });
    return shared.filter((c) => c.tenantId);
  }

  private async lookup(conversation: Conversation, upn: string): Promise<{ id: string; aadObjectId?: string; name?: string } | undefined> {
    let member: { id: string; aadObjectId?: string; name?: string } | undefined;
    try {
      await this.deps.adapter!.continueConversationAsync(this.deps.appId ?? '', conversation.reference as Partial<ConversationReference>, async (ctx) => {
        const m = await TeamsInfo.getMember(ctx, upn);
        member = { id: m.id, aadObjectId: m.aadObjectId, name: m.name };
      });
    } catch (err) {
      this.deps.logger.debug({ err, conversationId: conversation.id }, 'roster lookup failed');
    }
    return member;
  }

  private async createPersonalChat(
    roster: Conversation,
    member: { id: string; aadObjectId?: string; name?: string },
    upn: string,
  ): Promise<string | undefined> {
    const params = {
      isGroup: false,
      bot: { id: this.deps.appId || (roster.reference as { bot?: { id: string } }).bot?.id },
      members: [{ id: member.id }],
      tenantId: roster.tenantId,
      channelData: { tenant: { id: roster.tenantId } },
    } as unknown as ConversationParameters;
    let reference: Partial<ConversationReference> | undefined;
    try {
      await this.deps.adapter!.createConversationAsync(this.deps.appId ?? '', 'msteams', roster.serviceUrl, '', params, async (ctx) => {
        reference = TurnContext.getConversationReference(ctx.activity);
      });
    } catch (err) {
      this.deps.logger.warn({ err, upn }, 'could not create a 1:1 chat (is the app installed for this user?)');
      return undefined;
    }
    if (!reference?.conversation?.id) return undefined;
    const now = this.deps.clock.now().toISOString();
    delete reference.activityId;
    await this.deps.store.conversations.upsert({
      id: reference.conversation.id,
      channelId: 'msteams',
      serviceUrl: roster.serviceUrl,
      tenantId: roster.tenantId,
      kind: 'personal',
      name: member.name,
      reference: JSON.parse(JSON.stringify(reference)) as Record<string, unknown>,
      subscribed: false,
      filters: { severities: [], scopes: [] },
      userUpn: upn.toLowerCase(),
      userAadObjectId: member.aadObjectId,
      createdAt: now,
      updatedAt: now,
    });
    this.deps.logger.info({ upn, conversationId: reference.conversation.id }, 'created a 1:1 chat for reminders');
    return reference.conversation.id;
  }
}
