import { app, pages } from '@microsoft/teams-js';

/**
 * Configuration page of the channel tab: nothing to choose, so it is valid at once and saving
 * points the tab at the dashboard on this same server.
 */

const status = document.getElementById('status')!;

async function main(): Promise<void> {
  if (window.self === window.top) {
    status.textContent = 'This page configures the Teams channel tab. Add the app to a channel in Microsoft Teams to use it.';
    return;
  }
  try {
    await Promise.race([app.initialize(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000))]);
  } catch {
    status.textContent = 'Microsoft Teams did not answer. Close this dialog and try again.';
    return;
  }
  const origin = window.location.origin;
  pages.config.registerOnSaveHandler((saveEvent) => {
    pages.config
      .setConfig({ entityId: 'remediation-dashboard', contentUrl: `${origin}/tab`, websiteUrl: `${origin}/tab`, suggestedDisplayName: 'Remediation dashboard' })
      .then(() => saveEvent.notifySuccess())
      .catch((err: unknown) => saveEvent.notifyFailure((err as Error).message));
  });
  pages.config.setValidityState(true);
  status.textContent = 'Select Save to add the remediation dashboard to this channel.';
}

void main();
