/**
 * The oauth2 plugin's Admin API. Its endpoints are the generated ones of its entities
 * (kong/plugins/oauth2 has no api.lua): `/oauth2`, `/oauth2/{id|client_id}`,
 * `/consumers/{c}/oauth2[/{id|client_id}]`, `/oauth2_tokens`, `/oauth2_tokens/{id|access_token}`,
 * so this module adds no route. The plugin's primary side (grants and token lookups for the
 * workers) is wired by the primary's start-up (primary/main.ts, plugins/oauth2/primary.ts), not
 * here: it lives as long as the node, whether or not an Admin API listens.
 */
import type { EndpointContext } from '../endpoints.ts'
import type { Route } from '../router.ts'

export function oauth2Routes (_c: EndpointContext, _node: string): Route[] {
  return []
}
