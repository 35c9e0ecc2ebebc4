// Starts PGlite (PostgreSQL compiled to WebAssembly) with the pgvector
// extension behind pglite-socket's PostgreSQL wire-protocol server on a
// loopback port, for the pgvector search tests.
//
//   node pglite-server.mjs <node_modules parent dir> [port]
//
// The packages are installed by hack/install-deps.sh into
// ~/.cache/contract-lucidity/pglite. Prints "LISTENING <port>" when ready;
// exits on SIGTERM/SIGINT or when stdin closes (the test process died).
import { createRequire } from 'node:module'
import path from 'node:path'

const dir = process.argv[2]
const port = Number(process.argv[3] || 0)
if (!dir) {
  console.error('usage: node pglite-server.mjs <dir with node_modules> [port]')
  process.exit(2)
}
const require = createRequire(path.join(path.resolve(dir), 'package.json'))
const { PGlite } = require('@electric-sql/pglite')
const { vector } = require('@electric-sql/pglite-pgvector')
const { PGLiteSocketServer } = require('@electric-sql/pglite-socket')

const db = await PGlite.create({ extensions: { vector } })
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 1 })
server.addEventListener('error', (ev) => console.error('pglite-socket error:', ev.detail ?? ev))
await server.start()
console.log(`LISTENING ${server.getServerConn()}`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  try { await server.stop() } catch {}
  try { await db.close() } catch {}
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
