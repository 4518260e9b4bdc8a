/**
 * Upstream health in DB-less mode: the same endpoints read the declarative configuration; manual
 * posts are node-local and allowed (they write no entity), and an active check runs.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { startDblessGateway, type DblessGateway } from '../helpers/dbless.ts'
import { adminCall, until, type AdminAnswer } from '../helpers/admin-api.ts'

let gw: DblessGateway
let up: Server
let port = 0
let status = 200

before(async () => {
  up = createServer((req, res) => { res.statusCode = req.url === '/hc' ? status : 200; res.end() })
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve))
  port = (up.address() as { port: number }).port
  gw = await startDblessGateway({
    declarative: `_format_version: "3.0"
upstreams:
- name: manual.test
  healthchecks:
    passive:
      unhealthy:
        http_failures: 1
  targets:
  - target: 127.0.0.1:9201
- name: active.test
  healthchecks:
    active:
      http_path: /hc
      healthy: { interval: 0.1, successes: 1 }
      unhealthy: { interval: 0.1, http_failures: 1 }
  targets:
  - target: 127.0.0.1:${port}
`,
  })
})

after(async () => {
  await gw?.stop()
  await new Promise((resolve) => up?.close(resolve))
})

const call = (method: string, path: string): Promise<AdminAnswer> => adminCall(gw.admin, method, path)

const healthOf = async (u: string): Promise<string> => (await call('GET', `/upstreams/${u}/health`)).json.data[0].health as string

test('DB-less: manual posts flip a target; unknown targets are 404', async () => {
  assert.equal(await healthOf('manual.test'), 'HEALTHY')
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:9201/unhealthy')).status, 204)
  assert.equal(await healthOf('manual.test'), 'UNHEALTHY')
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:9201/healthy')).status, 204)
  assert.equal(await healthOf('manual.test'), 'HEALTHY')
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:1/healthy')).status, 404)
  assert.equal((await call('PUT', '/upstreams/nope.test/targets/127.0.0.1:9201/healthy')).status, 404)
  // target writes stay refused in DB-less mode
  assert.equal((await call('DELETE', '/upstreams/manual.test/targets/127.0.0.1:9201')).status, 405)
})

test('DB-less: active checks run on the primary', async () => {
  status = 503
  await until('active.test UNHEALTHY', async () => await healthOf('active.test') === 'UNHEALTHY')
  status = 200
  await until('active.test HEALTHY again', async () => await healthOf('active.test') === 'HEALTHY')
})
