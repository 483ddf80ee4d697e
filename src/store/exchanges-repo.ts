import type {StoreConnection} from './database.js'

/** The model-call cache (`model_exchanges`): answers by exchange key. See src/model/exchange-cache.ts. */
export class ExchangesRepo {
  private readonly stmt: ReturnType<typeof prepare>

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
  }

  get(key: string): string | undefined {
    return this.conn.guard(() => this.stmt.get.get(key) as string | undefined)
  }

  /** The first answer to a key is kept: two requests in flight at once may both have missed. */
  put(key: string, source: string, responseJson: string): void {
    this.conn.guard(() => this.stmt.put.run(key, source, responseJson, new Date().toISOString()))
  }
}

function prepare({db}: StoreConnection) {
  return {
    get: db.prepare('SELECT response_json FROM model_exchanges WHERE key = ?').pluck(),
    put: db.prepare('INSERT OR IGNORE INTO model_exchanges (key, source, response_json, created_at) VALUES (?, ?, ?, ?)'),
  }
}
