/**
 * The transport conformance suite against the `undici` transport (undici's Pool behind the seam).
 *
 * undici 7.30 fails four cases by its own behaviour (not fixable from the adapter); they run as
 * failing TODOs with the reason, see transport.conformance.ts.
 */
import { UndiciTransport } from '../../src/worker/transport/undici.ts'
import { runConformance } from './transport.conformance.ts'

runConformance('undici', (target, options) => new UndiciTransport(target, options), {
  knownFailures: {
    'an unsolicited 100 Continue is parsed and passed over (RFC 9110 15.2: a client MUST parse unexpected 1xx)':
      'client-h1.js fails the request with SocketError "bad response" (UND_ERR_SOCKET: the proxy retries it)',
    '304 with Content-Length: no body (RFC 9110 8.6 allows the field), connection reusable':
      'undici checks the body length against Content-Length also for 304: UND_ERR_RES_CONTENT_LENGTH_MISMATCH after the head',
    '204 with Content-Length: still no body (RFC 9112 6.3)':
      'the same length check on a 204: UND_ERR_RES_CONTENT_LENGTH_MISMATCH after the head',
    'RST during a read-until-close body: error (a reset is not the end of the body)':
      'onHttpSocketError treats ECONNRESET during a read-until-close body as the end of the message: a truncated body reported complete',
  },
})
