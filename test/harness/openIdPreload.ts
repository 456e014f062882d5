/**
 * Loaded with `node --require` into the real bot process by tests only: botbuilder reads the
 * Bot Framework's OpenID metadata (and so its signing keys) from a local server instead of
 * login.botframework.com, which tests cannot reach.
 */
import { AuthenticationConstants } from 'botframework-connector';

const url = process.env.TEST_BOT_OPENID_METADATA_URL;
if (url) {
  const constants = AuthenticationConstants as unknown as Record<string, string>;
  constants.ToBotFromChannelOpenIdMetadataUrl = url;
  constants.ToBotFromEmulatorOpenIdMetadataUrl = url;
}
