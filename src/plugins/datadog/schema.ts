/** datadog config (kong/plugins/datadog/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import type { FieldDef } from '../../db/schema/types.ts'
import { queue, typedefs } from '../../db/schema/typedefs.ts'
import { CONSUMER_IDENTIFIERS, sampleRateCheck } from '../statsd/schema.ts'

export const STAT_NAMES = ['kong_latency', 'latency', 'request_count', 'request_size', 'response_size', 'upstream_latency'] as const
export const STAT_TYPES = ['counter', 'gauge', 'histogram', 'meter', 'set', 'timer', 'distribution'] as const

const app = ['app:kong']
const DEFAULT_METRICS = [
  { name: 'request_count', stat_type: 'counter', sample_rate: 1, tags: app, consumer_identifier: 'custom_id' },
  { name: 'latency', stat_type: 'timer', tags: app, consumer_identifier: 'custom_id' },
  { name: 'request_size', stat_type: 'timer', tags: app, consumer_identifier: 'custom_id' },
  { name: 'response_size', stat_type: 'timer', tags: app, consumer_identifier: 'custom_id' },
  { name: 'upstream_latency', stat_type: 'timer', tags: app, consumer_identifier: 'custom_id' },
  { name: 'kong_latency', stat_type: 'timer', tags: app, consumer_identifier: 'custom_id' },
]

const metric: FieldDef = {
  type: 'record',
  fields: {
    name: { type: 'string', description: 'Datadog metric’s name', required: true, one_of: STAT_NAMES },
    stat_type: { type: 'string', description: 'Determines what sort of event the metric represents', required: true, one_of: STAT_TYPES },
    tags: { type: 'array', description: 'List of tags', elements: { type: 'string', match: '^.*[^:]$' } },
    sample_rate: { type: 'number', description: 'Sampling rate', between: [0, 1] },
    consumer_identifier: { type: 'string', description: 'Authenticated user detail', one_of: CONSUMER_IDENTIFIERS },
  },
  entity_checks: [sampleRateCheck],
}

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        host: { ...typedefs.host, referenceable: true, default: 'localhost' },
        port: { ...typedefs.port, default: 8125 },
        prefix: { type: 'string', description: "String to be attached as a prefix to a metric's name.", default: 'kong' },
        service_name_tag: { type: 'string', description: 'String to be attached as the name of the service.', default: 'name' },
        status_tag: { type: 'string', description: 'String to be attached as the tag of the HTTP status.', default: 'status' },
        consumer_tag: { type: 'string', description: 'String to be attached as tag of the consumer.', default: 'consumer' },
        // deprecated (Kong 4.0 removes them); queue_size / flush_timeout still map onto the queue
        retry_count: { type: 'integer', description: 'Number of times to retry when sending data to the upstream server.' },
        queue_size: { type: 'integer', description: 'Maximum number of log entries to be sent on each message to the upstream server.' },
        flush_timeout: {
          type: 'number',
          description: 'Optional time in seconds. If `queue_size` > 1, this is the max idle time before sending a log with less than `queue_size` records.',
        },
        queue,
        metrics: { type: 'array', description: 'List of metrics to be logged.', required: true, default: DEFAULT_METRICS, elements: metric },
      },
    },
  },
}
