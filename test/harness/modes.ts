/** What `npm start` needs in production mode, with an app id (so a token is required). */
export const PRODUCTION_APP_ID = '11111111-2222-3333-4444-555555555555';
export const PRODUCTION_ENV = {
  BOT_MODE: 'production',
  MicrosoftAppId: PRODUCTION_APP_ID,
  MicrosoftAppPassword: 'not-a-real-secret',
  SECRET_KEY: '07'.repeat(32),
  DEFENDER_SCOPES: '/subscriptions/00000000-0000-0000-0000-000000000000',
};
