/** The transport conformance suite against the lean `net` transport. */
import { NetTransport } from '../../src/worker/transport/net.ts'
import { runConformance } from './transport.conformance.ts'

runConformance('net', (target, options) => new NetTransport(target, options))
