/**
 * The `routes` entity for the traditional_compatible router: kong/db/schema/entities/routes.lua
 * and routes_subschemas.lua. The subschema (http, stream or grpc) is picked by the first known
 * protocol, and narrows which routing fields may be set.
 */
import type { EntitySchema, Subschema } from '../types.ts'
import {
  PROTOCOLS, destinations, headers, hosts, methods, none, routerPaths, sources, tags, typedefs,
} from '../typedefs.ts'
import { validateRouteExpression } from '../validators/route-expression.ts'

const STREAM = "'tcp', 'tls', 'tls_passthrough' or 'udp'"

const http: Subschema = {
  name: 'http',
  fields: {
    sources: none(sources, "cannot set 'sources' when 'protocols' is 'http' or 'https'"),
    destinations: none(destinations, "cannot set 'destinations' when 'protocols' is 'http' or 'https'"),
  },
  entity_checks: [{
    conditional_at_least_one_of: {
      if_field: 'protocols',
      if_match: { contains: 'https' },
      then_at_least_one_of: ['methods', 'hosts', 'headers', 'paths', 'snis'],
      then_err: "must set one of %s when 'protocols' is 'https'",
      else_match: { contains: 'http' },
      else_then_at_least_one_of: ['methods', 'hosts', 'headers', 'paths'],
      else_then_err: "must set one of %s when 'protocols' is 'http'",
    },
  }],
}

const stream: Subschema = {
  name: 'tcp',
  fields: {
    methods: none(methods, `cannot set 'methods' when 'protocols' is ${STREAM}`),
    hosts: none(hosts, `cannot set 'hosts' when 'protocols' is ${STREAM}`),
    paths: none(routerPaths, `cannot set 'paths' when 'protocols' is ${STREAM}`),
    headers: none(headers, `cannot set 'headers' when 'protocols' is ${STREAM}`),
  },
  entity_checks: [
    {
      conditional_at_least_one_of: {
        if_field: 'protocols',
        if_match: { elements: { type: 'string', one_of: ['tcp', 'tls', 'udp'] } },
        then_at_least_one_of: ['sources', 'destinations', 'snis'],
        then_err: "must set one of %s when 'protocols' is 'tcp', 'tls' or 'udp'",
      },
    },
    {
      conditional_at_least_one_of: {
        if_field: 'protocols',
        if_match: { elements: { type: 'string', one_of: ['tls_passthrough'] } },
        then_at_least_one_of: ['snis'],
        then_err: "must set snis when 'protocols' is 'tls_passthrough'",
      },
    },
  ],
}

const grpc: Subschema = {
  name: 'grpc',
  fields: {
    strip_path: {
      type: 'boolean', required: true, default: false, ne: true, err: "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'",
    },
    methods: none(methods, "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"),
    sources: none(sources, "cannot set 'sources' when 'protocols' is 'grpc' or 'grpcs'"),
    destinations: none(sources, "cannot set 'destinations' when 'protocols' is 'grpc' or 'grpcs'"),
  },
  entity_checks: [{
    conditional_at_least_one_of: {
      if_field: 'protocols',
      if_match: { contains: 'grpcs' },
      then_at_least_one_of: ['hosts', 'headers', 'paths', 'snis'],
      then_err: "must set one of %s when 'protocols' is 'grpcs'",
      else_match: { contains: 'grpc' },
      else_then_at_least_one_of: ['hosts', 'headers', 'paths'],
      else_then_err: "must set one of %s when 'protocols' is 'grpc'",
    },
  }],
}

export const routes: EntitySchema = {
  name: 'routes',
  primary_key: ['id'],
  endpoint_key: 'name',
  workspaceable: true,
  subschema_key: 'protocols',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    name: typedefs.utf8_name,
    protocols: {
      type: 'set',
      len_min: 1,
      required: true,
      elements: typedefs.protocol,
      mutually_exclusive_subsets: [['http', 'https'], ['tcp', 'tls', 'udp'], ['tls_passthrough'], ['grpc', 'grpcs']],
      default: ['http', 'https'],
    },
    https_redirect_status_code: { type: 'integer', one_of: [426, 301, 302, 307, 308], default: 426, required: true },
    strip_path: { type: 'boolean', required: true, default: true },
    preserve_host: { type: 'boolean', required: true, default: false },
    request_buffering: { type: 'boolean', required: true, default: true },
    response_buffering: { type: 'boolean', required: true, default: true },
    tags,
    service: { type: 'foreign', reference: 'services' },
    snis: { type: 'set', elements: typedefs.wildcard_host },
    sources,
    destinations,
    methods,
    hosts,
    paths: routerPaths,
    headers: {
      ...headers,
      keys: {
        ...typedefs.header_name,
        match_none: [{ pattern: '^[Hh][Oo][Ss][Tt]$', err: "cannot contain 'host' header, which must be specified in the 'hosts' attribute" }],
      },
    },
    regex_priority: { type: 'integer', default: 0 },
    path_handling: { type: 'string', default: 'v0', one_of: ['v0', 'v1'] },
  },
  entity_checks: [{
    conditional: {
      if_field: 'protocols',
      if_match: { elements: { type: 'string', not_one_of: ['grpcs', 'https', 'tls', 'tls_passthrough'] } },
      then_field: 'snis',
      then_match: { len_eq: 0 },
      then_err: "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
    },
  }, {
    custom_entity_check: { field_sources: ['paths', 'headers'], run_with_missing_fields: true, fn: validateRouteExpression },
  }],
  subschemas: { http, https: http, tcp: stream, tls: stream, udp: stream, tls_passthrough: stream, grpc, grpcs: grpc },
}

export { PROTOCOLS }
