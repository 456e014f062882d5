import { TeamsActivityHandler, type Activity, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type TurnContext } from 'botbuilder';
import type { Logger } from '../core/logger.js';
import type { CardIds } from './cardIds.js';
import { readExecuteAction, readSubmitAction, type ActionResult, type ActionRouter } from './actionRouter.js';
import type { CommandRouter } from './commandRouter.js';
import type { ConversationService } from './conversations.js';
import { TeamsDirectory } from './teamsDirectory.js';
import { toActivity, turnInfo, type OutgoingMessage, type TurnInfo } from './turn.js';

export interface TeamsBotDeps {
  commands: CommandRouter;
  actions: ActionRouter;
  conversations: ConversationService;
  /** Subscribes on install when the installer may, and returns the welcome to post (undefined: already greeted). */
  install: (info: TurnInfo) => Promise<OutgoingMessage | undefined>;
  /** Runs once the install's welcome is posted (the conversation's first cards come after it). */
  afterInstall?: (info: TurnInfo) => void;
  logger: Logger;
  sandbox: boolean;
  /** Where Action.Submit carries no replyToId (Web Chat, the Emulator), cards carry their own id. */
  cardIds: CardIds;
}

/**
 * The only class that sees botbuilder's activity events. It turns them into calls on the command
 * router, the action router and the conversation service, and turns their answers back into
 * activities or invoke responses.
 */
export class TeamsBot extends TeamsActivityHandler {
  constructor(private readonly deps: TeamsBotDeps) {
    super();

    this.onMessage(async (ctx, next) => {
      await this.handleMessage(ctx);
      await next();
    });

    this.onMembersAdded(async (ctx, next) => {
      const botId = ctx.activity.recipient.id;
      if ((ctx.activity.membersAdded ?? []).some((m) => m.id === botId)) await this.greet(ctx);
      await next();
    });

    this.onMembersRemoved(async (ctx, next) => {
      const botId = ctx.activity.recipient.id;
      if ((ctx.activity.membersRemoved ?? []).some((m) => m.id === botId)) await deps.conversations.forget(ctx.activity.conversation.id);
      await next();
    });

    this.onInstallationUpdateAdd(async (ctx, next) => {
      await this.greet(ctx);
      await next();
    });

    this.onInstallationUpdateRemove(async (ctx, next) => {
      await deps.conversations.forget(ctx.activity.conversation.id);
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(ctx: TurnContext, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    const action = readExecuteAction(invokeValue);
    if (!action) {
      return { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message: 'The card action has no verb.' } as never };
    }
    const result = await this.deps.actions.dispatch(action, turnInfo(ctx));
    // In Teams the invoke response replaces the clicked card; a reply card is also posted.
    if (result.kind === 'message') {
      return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: result.text as never };
    }
    if (result.kind === 'reply') {
      const sent = await ctx.sendActivity(toActivity({ card: result.card }));
      result.afterSend?.(sent?.id);
      return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: 'See the reply below.' as never };
    }
    // The invoke response replaces the clicked card, whose id Action.Execute carries.
    result.afterSend?.(ctx.activity.replyToId);
    return { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: result.card as never };
  }

  private async handleMessage(ctx: TurnContext): Promise<void> {
    const info = turnInfo(ctx);
    const submitted = readSubmitAction(ctx.activity.value);
    if (submitted) {
      // The channel's replyToId when it sends one; else the id the card carries (bot/cardIds.ts).
      const clicked = await this.deps.cardIds.clickedCard(submitted.data);
      const replyToId = info.replyToId ?? clicked;
      const result = await this.deps.actions.dispatch(submitted, { ...info, replyToId });
      await this.deliverSubmitResult(ctx, result, replyToId);
      return;
    }
    if (info.conversationKind === 'personal') await this.deps.conversations.remember(ctx.activity, () => TeamsDirectory.senderUpn(ctx, this.deps.logger));
    const reply = async (message: OutgoingMessage) => {
      await this.post(ctx, toActivity(message));
    };
    const handled = await this.deps.commands.dispatch(ctx.activity.text ?? '', info, reply);
    if (!handled) {
      await reply({ text: `I did not understand "${(ctx.activity.text ?? '').trim().slice(0, 60)}". Type **help** to see what I can do.` });
    }
  }

  /** Channels without Action.Execute: "replace" becomes an update of the message the card is in. */
  private async deliverSubmitResult(ctx: TurnContext, result: ActionResult, replyToId: string | undefined): Promise<void> {
    if (result.kind === 'message') {
      await ctx.sendActivity(toActivity({ text: result.text }));
      return;
    }
    const activity = toActivity({ card: result.card });
    // The clicked card (channel's replyToId or the id it carries), else the id a result names itself.
    const target = result.kind === 'replace' ? (replyToId ?? result.activityId) : undefined;
    if (target) {
      try {
        await ctx.updateActivity({ ...this.deps.cardIds.forUpdate(activity, ctx.activity.channelId, target), id: target });
        result.afterSend?.(target);
        return;
      } catch (err) {
        this.deps.logger.warn({ err, conversationId: ctx.activity.conversation.id }, 'could not update the card; posting it instead');
      }
    }
    // Not `afterSend?.(await this.post(…))`: without afterSend the argument would never run.
    const sent = await this.post(ctx, activity);
    result.afterSend?.(sent);
  }

  /** Posts an activity in the turn's conversation; a card remembers the id it was given. */
  private async post(ctx: TurnContext, activity: Partial<Activity>): Promise<string | undefined> {
    const prepared = this.deps.cardIds.forPost(activity, ctx.activity.channelId);
    const sent = await ctx.sendActivity(prepared.activity);
    await prepared.remember(sent?.id);
    return sent?.id;
  }

  /** The installer's roles decide whether the install subscribes (commands/subscribe.ts installHandler). */
  private async greet(ctx: TurnContext): Promise<void> {
    const info = turnInfo(ctx);
    const welcome = await this.deps.install(info);
    if (!welcome) return;
    await this.post(ctx, toActivity(welcome));
    this.deps.afterInstall?.(info);
  }
}
