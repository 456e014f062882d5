import { dashboardDataSchema, type DashboardData } from '../core/dashboard.js';
import { fillFilters, matches, readFilters, renderRows } from './table.js';
import { connectHost, notifyLoaded, type Host, type Theme } from './teamsHost.js';
import { severityStatusChart, timelineChart } from './svg.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}

function showError(message: string): void {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  $('status').textContent = '';
}

async function fetchDashboard(host: Host): Promise<DashboardData> {
  let token: string | undefined;
  try {
    token = await host.token();
  } catch (err) {
    throw new Error(`Teams could not sign you in (${(err as Error).message || 'no token'}). Reload the tab to try again.`);
  }
  const res = await fetch('/api/dashboard', { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  if (res.status === 401) throw new Error('You are not signed in. Open the dashboard from Microsoft Teams.');
  if (res.status === 403) {
    // The bot says which Azure role is missing; shown as text, never as markup.
    const body = (await res.json().catch(() => undefined)) as { message?: unknown } | undefined;
    throw new Error(typeof body?.message === 'string' ? body.message.slice(0, 500) : 'Your Azure roles do not allow reading this data.');
  }
  if (!res.ok) throw new Error(`The dashboard data could not be loaded (HTTP ${res.status}). Try again in a moment.`);
  const parsed = dashboardDataSchema.safeParse(await res.json());
  if (!parsed.success) throw new Error('The dashboard data had an unexpected shape; the bot and the tab may be different versions.');
  return parsed.data;
}

function renderCounts(data: DashboardData): void {
  for (const key of ['open', 'overdue', 'inGrace', 'resolved'] as const) {
    $(`kpi-${key}`).textContent = String(data.counts[key]);
  }
}

function renderOwners(data: DashboardData): void {
  const list = $('owners');
  if (data.topOverdueOwners.length === 0) {
    list.replaceChildren(Object.assign(document.createElement('li'), { className: 'empty', textContent: 'Nobody has overdue items.' }));
    return;
  }
  list.replaceChildren(
    ...data.topOverdueOwners.map((o) => {
      const li = document.createElement('li');
      li.dataset.owner = o.owner;
      const name = Object.assign(document.createElement('span'), { className: 'owner', textContent: o.owner });
      const count = Object.assign(document.createElement('span'), { className: 'count', textContent: String(o.overdue) });
      const since = Object.assign(document.createElement('span'), { className: 'muted', textContent: `oldest due ${o.oldestDueDate}` });
      li.append(name, count, since);
      return li;
    }),
  );
}

function render(data: DashboardData): void {
  renderCounts(data);
  $('chart-severity').replaceChildren(severityStatusChart(data));
  $('chart-timeline').replaceChildren(timelineChart(data));
  renderOwners(data);

  const form = $<HTMLFormElement>('filters');
  const tbody = $<HTMLTableSectionElement>('rows');
  fillFilters(form, data.rows);
  const update = () => {
    const shown = data.rows.filter((r) => matches(r, readFilters(form)));
    renderRows(tbody, shown);
    $('row-count').textContent = `Showing ${shown.length} of ${data.rows.length} assignments`;
  };
  form.addEventListener('change', update);
  form.addEventListener('reset', () => setTimeout(update, 0));
  update();
  $('updated').textContent = `Updated ${new Date(data.generatedAt).toLocaleString()}`;
  $('status').textContent = '';
  document.body.dataset.state = 'ready';
}

async function main(): Promise<void> {
  const host = await connectHost();
  applyTheme(host.theme);
  host.onThemeChange(applyTheme);
  $('context').textContent = host.inTeams ? `Signed in to Teams${host.user ? ` as ${host.user}` : ''}` : 'Standalone (outside Teams)';
  document.body.dataset.host = host.inTeams ? 'teams' : 'standalone';
  try {
    render(await fetchDashboard(host));
  } catch (err) {
    showError((err as Error).message);
    document.body.dataset.state = 'error';
  } finally {
    notifyLoaded(host);
  }
}

void main();
