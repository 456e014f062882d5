import type { Logger } from '../core/logger.js';
import type { Actor } from './turn.js';

export type Decision = { allowed: true } | { allowed: false; reason: string };

export interface Authorizer {
  /** Owner, Contributor or Security Admin on every given subscription (the Defender integration's rule). */
  canManage(actor: Actor, subscriptionIds: readonly string[]): Promise<Decision>;
}

interface RoleSource {
  canManage(objectId: string, subscriptionIds: readonly string[]): Promise<boolean>;
}

/**
 * Checks Azure RBAC through ARM role assignments, cached briefly so a burst of actions does not
 * spend ARM quota. In sandbox mode an Emulator user (no Entra object id) acts as a security admin.
 */
export class RbacAuthorizer implements Authorizer {
  private readonly cache = new Map<string, { at: number; allowed: boolean }>();

  constructor(
    private readonly roles: RoleSource | undefined,
    private readonly opts: { sandbox: boolean; logger: Logger; now?: () => number; ttlMs?: number },
  ) {}

  async canManage(actor: Actor, subscriptionIds: readonly string[]): Promise<Decision> {
    // Nothing known yet (a fresh install): there is no Defender data to protect.
    if (subscriptionIds.length === 0) return { allowed: true };
    if (!actor.aadObjectId) {
      return this.opts.sandbox
        ? { allowed: true }
        : { allowed: false, reason: 'Your Microsoft Entra identity is not known to the bot, so your Azure roles cannot be checked. Use Microsoft Teams.' };
    }
    if (!this.roles) return { allowed: false, reason: 'Azure is not configured, so roles cannot be checked.' };
    const now = (this.opts.now ?? Date.now)();
    const key = `${actor.aadObjectId}|${[...subscriptionIds].sort().join(',')}`;
    const hit = this.cache.get(key);
    let allowed: boolean;
    if (hit && now - hit.at < (this.opts.ttlMs ?? 5 * 60_000)) allowed = hit.allowed;
    else {
      allowed = await this.roles.canManage(actor.aadObjectId, subscriptionIds);
      this.cache.set(key, { at: now, allowed });
    }
    if (allowed) return { allowed: true };
    this.opts.logger.info({ actor: actor.aadObjectId, subscriptions: subscriptionIds.length }, 'action refused: missing role');
    return { allowed: false, reason: 'This needs the Owner, Contributor or Security Admin role on every subscription involved. Nothing was changed.' };
  }
}
