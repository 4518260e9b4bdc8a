/**
 * The plugin handlers a worker can run: a static import list (no filesystem scanning), so a new
 * plugin is a folder plus one line here. Order does not matter: worker/plugin-chains.ts sorts by
 * Kong's PRIORITY (ties: name descending). The primary never imports this file (schemas.ts is its
 * list).
 */
import type { AnyPluginHandler } from './types.ts'
import { handler as acl } from './acl/handler.ts'
import { handler as basicAuth } from './basic-auth/handler.ts'
import { handler as botDetection } from './bot-detection/handler.ts'
import { handler as correlationId } from './correlation-id/handler.ts'
import { handler as cors } from './cors/handler.ts'
import { handler as hmacAuth } from './hmac-auth/handler.ts'
import { handler as ipRestriction } from './ip-restriction/handler.ts'
import { handler as jwt } from './jwt/handler.ts'
import { handler as keyAuth } from './key-auth/handler.ts'
import { handler as oauth2 } from './oauth2/handler.ts'
import { handler as requestSizeLimiting } from './request-size-limiting/handler.ts'
import { handler as requestTermination } from './request-termination/handler.ts'
import { handler as requestTransformer } from './request-transformer/handler.ts'
import { handler as responseTransformer } from './response-transformer/handler.ts'
import { handler as redirect } from './redirect/handler.ts'
import { handler as aiPromptTemplate } from './ai-prompt-template/handler.ts'
import { handler as aiPromptDecorator } from './ai-prompt-decorator/handler.ts'
import { handler as aiPromptGuard } from './ai-prompt-guard/handler.ts'
import { handler as standardWebhooks } from './standard-webhooks/handler.ts'
import { handler as azureFunctions } from './azure-functions/handler.ts'
import { handler as rateLimiting } from './rate-limiting/handler.ts'
import { handler as responseRatelimiting } from './response-ratelimiting/handler.ts'
import { handler as proxyCache } from './proxy-cache/handler.ts'
import { handler as httpLog } from './http-log/handler.ts'
import { handler as fileLog } from './file-log/handler.ts'
import { handler as udpLog } from './udp-log/handler.ts'
import { handler as tcpLog } from './tcp-log/handler.ts'
import { handler as statsd } from './statsd/handler.ts'
import { handler as datadog } from './datadog/handler.ts'
import { handler as loggly } from './loggly/handler.ts'
import { handler as syslog } from './syslog/handler.ts'
import { handler as prometheus } from './prometheus/handler.ts'
import { handler as session } from './session/handler.ts'

export const HANDLERS: readonly AnyPluginHandler[] = [
  correlationId,
  botDetection,
  cors,
  session,
  jwt,
  oauth2,
  keyAuth,
  basicAuth,
  hmacAuth,
  ipRestriction,
  requestSizeLimiting,
  acl,
  rateLimiting,
  responseRatelimiting,
  requestTransformer,
  responseTransformer,
  redirect,
  aiPromptTemplate,
  aiPromptDecorator,
  aiPromptGuard,
  standardWebhooks,
  azureFunctions,
  requestTermination,
  proxyCache,
  httpLog,
  fileLog,
  udpLog,
  tcpLog,
  statsd,
  datadog,
  loggly,
  prometheus,
  syslog,
]
