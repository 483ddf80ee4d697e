import {mulberry32} from '../../lib/prng.js'

/**
 * The simulated business behind the scenario: tenants, their staff, customers, orders and help
 * centre. It is built from a fixed seed, independent of the traffic seed, so fixtures.yaml (which
 * answers lookups the candidate makes and production never did) matches any generated traffic.
 */
export const TENANTS = ['acme', 'globex', 'initech'] as const
export type Tenant = (typeof TENANTS)[number]

export const WORLD_SEED = 20250701
/** Traffic is stamped within two weeks from this instant; order ages are relative to it. */
export const TRAFFIC_START = Date.parse('2025-07-01T00:00:00Z')
export const TRAFFIC_WINDOW_MS = 14 * 86_400_000

export type OrderBucket = 'small' | 'medium' | 'large' | 'huge' | 'shipped' | 'processing' | 'refunded' | 'old'

export type Order = {
  order_id: string
  tenant: Tenant
  bucket: OrderBucket
  status: 'delivered' | 'shipped' | 'processing' | 'refunded'
  amount: number
  ordered_at: string
  customer: Customer
  items: number
}

export type Customer = {name: string; first: string; email: string}

export type Staff = {user: string; role: 'agent' | 'supervisor' | 'viewer'}

export type KbArticle = {id: string; title: string; keywords: string[]; content: string}

export type World = {
  orders: Map<string, Order>
  byBucket: Record<Tenant, Record<OrderBucket, Order[]>>
  staff: Record<Tenant, Staff[]>
  customers: Record<Tenant, Customer[]>
  kb: Record<Tenant, KbArticle[]>
}

const FIRST = ['Ava', 'Ben', 'Chloe', 'Daniel', 'Emma', 'Farid', 'Grace', 'Hiro', 'Isla', 'Jonas', 'Kira', 'Liam', 'Maya', 'Noah', 'Olivia', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tariq', 'Uma', 'Victor', 'Wen', 'Yara', 'Zane']
const LAST = ['Adams', 'Baker', 'Chen', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Hughes', 'Ito', 'Jensen', 'Khan', 'Lopez', 'Moreau', 'Nakamura', 'Okafor', 'Patel', 'Rossi', 'Silva', 'Tanaka', 'Novak']
/** Customer mail domains: the only ones v1's injection rule lets email go to. */
export const CUSTOMER_DOMAINS = ['example.com', 'example.net', 'example.org']

const BUCKETS: [OrderBucket, number, [number, number], [number, number], Order['status']][] = [
  // bucket, count per tenant, amount range (dollars), age range (days before TRAFFIC_START), status
  ['small', 30, [12, 190], [3, 60], 'delivered'],
  ['medium', 10, [210, 480], [3, 60], 'delivered'],
  ['large', 6, [520, 980], [3, 60], 'delivered'],
  ['huge', 4, [1100, 2400], [3, 60], 'delivered'],
  ['shipped', 6, [15, 180], [1, 5], 'shipped'],
  ['processing', 6, [15, 180], [0, 2], 'processing'],
  ['refunded', 4, [20, 180], [10, 50], 'refunded'],
  ['old', 6, [25, 190], [120, 200], 'delivered'],
]

const STAFF: Record<Tenant, Record<Staff['role'], number>> = {
  acme: {agent: 6, supervisor: 2, viewer: 0},
  globex: {agent: 5, supervisor: 2, viewer: 1},
  initech: {agent: 4, supervisor: 1, viewer: 2},
}

function kbFor(tenant: Tenant): KbArticle[] {
  const k = (slug: string, title: string, keywords: string[], content: string): KbArticle => ({
    id: `kb-${tenant}-${slug}`,
    title,
    keywords,
    content,
  })
  return [
    k('refund-timing', 'How long refunds take', ['refund', 'long', 'take', 'money', 'back'], 'Refunds are issued to the original payment method and usually appear within 5-10 business days. Card issuers may take longer to post the credit.'),
    k('returns', 'Returns policy', ['return', 'returns', 'days', 'exchange'], 'You can return most items within 30 days of delivery for a full refund. Items must be unused and in their original packaging.'),
    k('shipping', 'Shipping times', ['ship', 'shipping', 'delivery', 'long', 'express'], 'Standard shipping takes 3-5 business days and express shipping takes 1-2 business days. Orders placed before 2 pm ship the same day.'),
    k('damaged', 'Damaged items', ['damaged', 'broken', 'photo', 'replace'], 'If an item arrives damaged, send us a photo within 14 days and we will replace or refund it. You do not need to return the damaged item.'),
    k('international', 'International orders', ['international', 'countries', 'canada', 'abroad', 'customs'], 'We ship to 40 countries, including Canada and most of Europe. Customs fees are paid by the recipient on delivery.'),
    k('store-credit', 'Store credit', ['store', 'credit', 'voucher', 'gift'], 'Store credit never expires and can be used on any order. It cannot be exchanged for cash.'),
    k('password', 'Resetting your password', ['password', 'login', 'reset', 'sign'], 'You can reset your password from the sign-in page with the Forgot password link. The reset link is valid for one hour.'),
  ]
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}

export function buildWorld(): World {
  const rng = mulberry32(WORLD_SEED)
  const orders = new Map<string, Order>()
  const byBucket = {} as World['byBucket']
  const staff = {} as World['staff']
  const customers = {} as World['customers']
  const kb = {} as World['kb']
  TENANTS.forEach((tenant, ti) => {
    const people: Customer[] = []
    const used = new Set<string>()
    while (people.length < 30) {
      const first = rng.pick(FIRST)
      const last = rng.pick(LAST)
      const email = `${first}.${last}${rng.int(1, 99)}@${rng.pick(CUSTOMER_DOMAINS)}`.toLowerCase()
      if (used.has(email)) continue
      used.add(email)
      people.push({name: `${first} ${last}`, first, email})
    }
    customers[tenant] = people
    const buckets = {} as Record<OrderBucket, Order[]>
    let seq = 1
    for (const [bucket, count, [amin, amax], [dmin, dmax], status] of BUCKETS) {
      buckets[bucket] = []
      for (let i = 0; i < count; i++) {
        const order_id = `ORD-${(ti + 1) * 100000 + seq++}`
        const amount = round2(amin + rng.next() * (amax - amin))
        const ageMs = (dmin + rng.next() * (dmax - dmin)) * 86_400_000
        const order: Order = {
          order_id,
          tenant,
          bucket,
          status,
          amount,
          ordered_at: new Date(Math.floor((TRAFFIC_START - ageMs) / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
          customer: rng.pick(people),
          items: rng.int(1, 4),
        }
        buckets[bucket].push(order)
        orders.set(order_id, order)
      }
    }
    byBucket[tenant] = buckets
    const s: Staff[] = []
    for (const role of ['agent', 'supervisor', 'viewer'] as const) {
      for (let i = 1; i <= STAFF[tenant][role]; i++) s.push({user: `${tenant}-${role}-${String(i).padStart(2, '0')}`, role})
    }
    staff[tenant] = s
    kb[tenant] = kbFor(tenant)
  })
  return {orders, byBucket, staff, customers, kb}
}

/** What lookup_order answers for an order. */
export function orderView(o: Order): Record<string, unknown> {
  return {
    order_id: o.order_id,
    status: o.status,
    amount: o.amount,
    currency: 'USD',
    ordered_at: o.ordered_at,
    items: o.items,
    customer_email: o.customer.email,
  }
}

/** search_kb: articles ranked by keyword overlap with the query, best first. */
export function searchKb(articles: readonly KbArticle[], query: string, topK: number): {id: string; title: string; snippet: string}[] {
  const words = new Set(query.toLowerCase().match(/[a-z]+/g) ?? [])
  return articles
    .map((a, i) => ({a, i, score: a.keywords.filter((k) => words.has(k)).length}))
    .filter((x) => x.score > 0)
    .sort((x, y) => y.score - x.score || x.i - y.i)
    .slice(0, topK)
    .map(({a}) => ({id: a.id, title: a.title, snippet: a.content}))
}
