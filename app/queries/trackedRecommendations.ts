/** What the bot tracks of Defender's recommendations: their keys (the sandbox's `simulate`) and their subscriptions (who may run `sync`). */
import type { Store } from '../ports.js';

export class TrackedRecommendationsQuery {
  constructor(private readonly deps: { store: Store }) {}

  /** The assessment keys of every stored recommendation. */
  async keys(): Promise<Set<string>> {
    return new Set((await this.deps.store.recommendations.list()).map((r) => r.key));
  }

  /** The subscriptions of every stored recommendation's resources. */
  async subscriptions(): Promise<string[]> {
    return [...new Set((await this.deps.store.recommendations.list()).flatMap((r) => r.resources.map((x) => x.subscriptionId)))];
  }
}
