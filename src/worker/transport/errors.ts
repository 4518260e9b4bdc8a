/**
 * Errors of the `net` transport: undici's own error classes (same names, same `code`s), so the
 * proxy's mapping (502 / 504 / retry) and any `instanceof` check work for both transports. Socket
 * errors (ECONNREFUSED, ECONNRESET, EPIPE, ...) are passed on as Node raises them, as undici does.
 *
 * `classifyTransportError()` is the proxy's classification (proxy.ts's code sets) in one place, for
 * the conformance suite and for proxy.ts to adopt.
 */
import { errors } from 'undici'

/** The parser's HPE_* code for an error; undici's HTTPParserError takes it without the prefix. */
export function parserError (code: string, message: string): Error {
  if (code === 'HPE_HEADER_OVERFLOW') return new errors.HeadersOverflowError()
  // The runtime constructor is (message, code without HPE_, data); the typings only know message.
  const Ctor = errors.HTTPParserError as unknown as new (message: string, code: string) => Error
  return new Ctor(`Response does not match the HTTP/1.1 protocol (${message})`, code.slice(4))
}

export function connectTimeoutError (): Error {
  return new errors.ConnectTimeoutError()
}

export function headersTimeoutError (): Error {
  return new errors.HeadersTimeoutError()
}

export function bodyTimeoutError (): Error {
  return new errors.BodyTimeoutError()
}

/** Kong's write_timeout elapsed with a request write blocked (nginx: 504 "timed out while sending"). */
export function writeTimeoutError (): Error {
  const e = new Error('upstream write timeout') as Error & { code: string }
  e.name = 'WriteTimeoutError'
  e.code = 'ETIMEDOUT'
  return e
}

/** EOF from the upstream before the response was complete. */
export function closedError (): Error {
  return new errors.SocketError('other side closed')
}

export function invalidArgument (message: string): Error {
  return new errors.InvalidArgumentError(message)
}

export function notSupported (message: string): Error {
  return new errors.NotSupportedError(message)
}

export function requestLengthMismatch (): Error {
  return new errors.RequestContentLengthMismatchError()
}

export function requestAborted (): Error {
  return new errors.RequestAbortedError()
}

export function closedTransport (): Error {
  return new errors.ClientClosedError()
}

export function destroyedTransport (): Error {
  return new errors.ClientDestroyedError()
}

/** What the proxy does with an upstream failure (proxy.ts's sets, kong.md 3.4). */
export type ErrorClass =
  /** The connection never came up: any method may be retried; 502 when out of tries. */
  | 'connect'
  /** The request may have reached the upstream: idempotent methods retried; 502. */
  | 'send'
  /** 504 (connect timeouts are retried like `connect`, header timeouts like `send`). */
  | 'timeout'
  | 'dns'
  /** The request itself was bad: 400. */
  | 'client'
  /** A broken response: 502, no retry. */
  | 'protocol'

const CONNECT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const SEND = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const TIMEOUT = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])
const CLIENT = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED'])

/** proxy.ts errorCode(): the code, the first inner code of an AggregateError, or the name. */
export function errorCode (err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') return code
    const inner = (err as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) return errorCode(inner[0])
    if (err instanceof Error) return err.name
  }
  return 'UNKNOWN'
}

export function classifyTransportError (err: unknown): ErrorClass {
  const code = errorCode(err)
  if (TIMEOUT.has(code)) return 'timeout'
  if (CONNECT.has(code)) return 'connect'
  if (SEND.has(code)) return 'send'
  if (DNS.has(code)) return 'dns'
  if (CLIENT.has(code)) return 'client'
  return 'protocol'
}
