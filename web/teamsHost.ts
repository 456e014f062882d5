import { app, authentication } from '@microsoft/teams-js';

/**
 * The tab runs inside Teams or as a plain web page. teams-js rejects at once at top level but
 * waits 60 s inside a foreign frame, so initialisation is raced against a short timer and the
 * page falls back to standalone mode when Teams does not answer.
 */

export type Theme = 'default' | 'dark' | 'contrast';

export interface Host {
  inTeams: boolean;
  theme: Theme;
  user?: string;
  /** Bearer token for /api/dashboard; undefined standalone (the server then decides). */
  token(): Promise<string | undefined>;
  onThemeChange(handler: (theme: Theme) => void): void;
}

export const TEAMS_TIMEOUT_MS = 2000;

export function normalizeTheme(theme: string | undefined): Theme {
  return theme === 'dark' || theme === 'contrast' ? theme : 'default';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from Teams within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function standalone(): Host {
  const query = new URLSearchParams(window.location.search).get('theme') ?? undefined;
  const prefersDark = window.matchMedia?.('(prefers-color-scheme: dark)').matches;
  return {
    inTeams: false,
    theme: query ? normalizeTheme(query) : prefersDark ? 'dark' : 'default',
    token: async () => undefined,
    onThemeChange: () => undefined,
  };
}

export async function connectHost(timeoutMs = TEAMS_TIMEOUT_MS): Promise<Host> {
  // Opened directly (not framed, no opener): Teams cannot be the host, so skip the SDK altogether.
  if (window.self === window.top && !window.opener) return standalone();
  try {
    await withTimeout(app.initialize(), timeoutMs);
    const context = await withTimeout(app.getContext(), timeoutMs);
    return {
      inTeams: true,
      theme: normalizeTheme(context.app.theme),
      user: context.user?.userPrincipalName ?? context.user?.loginHint,
      token: () => authentication.getAuthToken(),
      onThemeChange: (handler) => app.registerOnThemeChangeHandler((t) => handler(normalizeTheme(t))),
    };
  } catch (err) {
    console.info('Dashboard runs standalone:', (err as Error).message);
    return standalone();
  }
}

export function notifyLoaded(host: Host): void {
  if (host.inTeams) void app.notifySuccess().catch(() => undefined);
}
