/**
 * The oauth2 plugin's Admin API. Its endpoints are the generated ones of its entities
 * (kong/plugins/oauth2 has no api.lua): `/oauth2`, `/oauth2/{id|client_id}`,
 * `/consumers/{c}/oauth2[/{id|client_id}]`, `/oauth2_tokens`, `/oauth2_tokens/{id|access_token}`.
 * What this module adds is the primary's side of the plugin: the node's pool, handed to the
 * grant endpoints and token lookups the workers ask for (plugins/oauth2/primary.ts). `node` is
 * the key the supervisor uses for the same node (its prefix).
 */
import { attachOAuth2 } from '../../plugins/oauth2/primary.ts'
import type { EndpointContext } from '../endpoints.ts'
import type { Route } from '../router.ts'

export function oauth2Routes (c: EndpointContext, node: string): Route[] {
  attachOAuth2(node, c.pool, c.nodeId)
  return []
}
