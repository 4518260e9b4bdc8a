/**
 * The `cluster_events` row every Admin API write commits together with the entity change.
 * The insert trigger NOTIFYs at commit; other nodes (and this node's primary) re-read the row.
 */
import type { PoolClient } from '../pool.ts'

export type CrudOp = 'create' | 'update' | 'delete'

export async function recordEvent (client: PoolClient, nodeId: string, entity: string, op: CrudOp, id: string): Promise<void> {
  await client.query("insert into cluster_events (node_id, channel, data) values ($1, 'crud', $2)",
    [nodeId, JSON.stringify({ entity, op, id })])
}
