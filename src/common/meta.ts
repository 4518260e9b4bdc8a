/**
 * Versions. Sluice speaks the Admin API and proxy surface of one Kong release; tools that branch on
 * Kong's version (decK, scripts reading `GET /`) see that release, and Sluice's own version beside it.
 */
export const SLUICE_VERSION = '0.1.0'
export const KONG_VERSION = '3.10.0'
/** `Server` / `Via` token. Kong's own, so clients and tests that compare it keep working. */
export const SERVER_TOKEN = `kong/${KONG_VERSION}`
