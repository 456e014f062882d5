/**
 * The TicketSystems port over ServiceNow: the add-time URL guard and the clients, built with the
 * connect-time guard unless private hosts are allowed (SERVICENOW_ALLOW_PRIVATE_HOSTS, the
 * sandbox). One ServiceNowInstances is shared by every client built here, so all clients of an
 * instance draw on one request budget.
 */
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { TicketConnection, TicketSystem, TicketSystems, TokenCache } from '../../app/ports.js';
import { ServiceNowClient, ServiceNowInstances, type ServiceNowClientOptions } from './client.js';
import type { Sleep } from './http.js';
import { checkInstanceUrl, publicOnlyAgents, type Lookup } from './urlGuard.js';

export interface ServiceNowTicketSystemsOptions {
  clock: Clock;
  logger: Logger;
  allowPrivateHosts: boolean;
  /** Resolver for the add-time URL check (tests). */
  lookup?: Lookup;
  clientOptions?: ServiceNowClientOptions;
  sleep?: Sleep;
  /** Budgets and creates in flight per instance; default: one of its own. */
  instances?: ServiceNowInstances;
}

export class ServiceNowTicketSystems implements TicketSystems {
  private readonly instances: ServiceNowInstances;

  constructor(private readonly opts: ServiceNowTicketSystemsOptions) {
    this.instances = opts.instances ?? new ServiceNowInstances();
  }

  checkInstanceUrl(url: string) {
    return checkInstanceUrl(url, { allowPrivate: this.opts.allowPrivateHosts, lookup: this.opts.lookup });
  }

  connect(connection: TicketConnection, tokenCache?: TokenCache): TicketSystem {
    return new ServiceNowClient({
      connection,
      tokenCache,
      instances: this.instances,
      logger: this.opts.logger,
      clock: this.opts.clock,
      // The add-time URL check alone would let a name rebind to a private address later (DNS
      // rebinding), and an integration saved while private hosts were allowed keep connecting.
      options: this.opts.allowPrivateHosts ? this.opts.clientOptions : { ...this.opts.clientOptions, agents: publicOnlyAgents() },
      sleep: this.opts.sleep,
    });
  }
}
