/** statsd config (kong/plugins/statsd/schema.lua, constants.lua). */
import type { PluginSchema } from '../schemas.ts'
import type { FieldDef } from '../../db/schema/types.ts'
import { queue, typedefs } from '../../db/schema/typedefs.ts'

export const METRIC_NAMES = [
  'kong_latency', 'latency', 'request_count', 'request_per_user', 'request_size', 'response_size', 'status_count',
  'status_count_per_user', 'unique_users', 'upstream_latency', 'status_count_per_workspace',
  'status_count_per_user_per_route', 'shdict_usage',
] as const
export const STAT_TYPES = ['counter', 'gauge', 'histogram', 'meter', 'set', 'timer'] as const
export const CONSUMER_IDENTIFIERS = ['consumer_id', 'custom_id', 'username'] as const
export const SERVICE_IDENTIFIERS = ['service_id', 'service_name', 'service_host', 'service_name_or_host'] as const
export const WORKSPACE_IDENTIFIERS = ['workspace_id', 'workspace_name'] as const
export const TAG_STYLES = ['dogstatsd', 'influxdb', 'librato', 'signalfx'] as const

/** The default metric list, in Kong's order (the order metrics are sent in). */
const DEFAULT_METRICS = [
  { name: 'request_count', stat_type: 'counter', sample_rate: 1 },
  { name: 'latency', stat_type: 'timer' },
  { name: 'request_size', stat_type: 'counter', sample_rate: 1 },
  { name: 'status_count', stat_type: 'counter', sample_rate: 1 },
  { name: 'response_size', stat_type: 'counter', sample_rate: 1 },
  { name: 'unique_users', stat_type: 'set' },
  { name: 'request_per_user', stat_type: 'counter', sample_rate: 1 },
  { name: 'upstream_latency', stat_type: 'timer' },
  { name: 'kong_latency', stat_type: 'timer' },
  { name: 'status_count_per_user', stat_type: 'counter', sample_rate: 1 },
  { name: 'status_count_per_workspace', stat_type: 'counter', sample_rate: 1 },
  { name: 'status_count_per_user_per_route', stat_type: 'counter', sample_rate: 1 },
  { name: 'shdict_usage', stat_type: 'gauge', sample_rate: 1 },
]

/** counters and gauges need a sample rate (both statsd and datadog metric records). */
export const sampleRateCheck = {
  conditional: {
    if_field: 'stat_type',
    if_match: { one_of: ['counter', 'gauge'] },
    then_field: 'sample_rate',
    then_match: { required: true },
  },
} as const

const metric: FieldDef = {
  type: 'record',
  fields: {
    name: { type: 'string', description: 'StatsD metric’s name.', required: true, one_of: METRIC_NAMES },
    stat_type: { type: 'string', description: 'Determines what sort of event a metric represents.', required: true, one_of: STAT_TYPES },
    sample_rate: { type: 'number', description: 'Sampling rate', gt: 0 },
    consumer_identifier: { type: 'string', description: 'Authenticated user detail.', one_of: CONSUMER_IDENTIFIERS },
    service_identifier: { type: 'string', description: 'Service detail.', one_of: SERVICE_IDENTIFIERS },
    workspace_identifier: { type: 'string', description: 'Workspace detail.', one_of: WORKSPACE_IDENTIFIERS },
  },
  entity_checks: [sampleRateCheck],
}

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        host: { ...typedefs.host, default: 'localhost', description: 'The IP address or hostname of StatsD server to send data to.' },
        port: { ...typedefs.port, default: 8125, description: 'The port of StatsD server to send data to.' },
        prefix: { type: 'string', description: "String to prefix to each metric's name.", default: 'kong' },
        metrics: { type: 'array', description: 'List of metrics to be logged.', default: DEFAULT_METRICS, elements: metric },
        allow_status_codes: {
          type: 'array',
          description: 'List of status code ranges that are allowed to be logged in metrics.',
          elements: { type: 'string', match: '^[0-9]+-[0-9]+$' },
        },
        // several metrics per datagram, up to this many bytes; 0: one metric per datagram
        udp_packet_size: { type: 'number', between: [0, 65507], default: 0 },
        use_tcp: { type: 'boolean', default: false },
        hostname_in_prefix: { type: 'boolean', default: false },
        consumer_identifier_default: { type: 'string', required: true, default: 'custom_id', one_of: CONSUMER_IDENTIFIERS },
        service_identifier_default: { type: 'string', required: true, default: 'service_name_or_host', one_of: SERVICE_IDENTIFIERS },
        workspace_identifier_default: { type: 'string', required: true, default: 'workspace_id', one_of: WORKSPACE_IDENTIFIERS },
        // deprecated (Kong 4.0 removes them); queue_size / flush_timeout still map onto the queue
        retry_count: { type: 'integer' },
        queue_size: { type: 'integer' },
        flush_timeout: { type: 'number' },
        tag_style: { type: 'string', required: false, one_of: TAG_STYLES },
        queue,
      },
    },
  },
}
