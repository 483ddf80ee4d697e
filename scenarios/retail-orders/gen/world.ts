import {mulberry32, type Rng} from '../../lib/prng.js'

/**
 * The simulated online shop behind the recorded traffic: a catalogue of product types, each with
 * variant items (options, price, availability), and customers with a profile (email, default
 * address, payment methods) and orders in every status. The shapes follow the retail domain of
 * τ-bench (see ../README.md): product ids and item ids are unrelated ten-digit strings, payment
 * methods are a credit card, a PayPal account or a gift card with a balance, order ids start with
 * `#W`. Names, addresses, prices and ids are ours, drawn from a fixed seed, so traffic of any seed
 * and size refers to the same shop.
 */

export const WORLD_SEED = 20240612

export type Options = Record<string, string>
export type Variant = {item_id: string; options: Options; available: boolean; price: number}
export type Product = {name: string; product_id: string; variants: Record<string, Variant>}

export type Address = {address1: string; address2: string; city: string; country: string; state: string; zip: string}

export type PaymentMethod =
  | {source: 'credit_card'; id: string; brand: string; last_four: string}
  | {source: 'paypal'; id: string}
  | {source: 'gift_card'; id: string; balance: number}

export type OrderItem = {name: string; product_id: string; item_id: string; price: number; options: Options}
export type Payment = {transaction_type: 'payment' | 'refund'; amount: number; payment_method_id: string}

export type OrderStatus = 'pending' | 'pending (item modified)' | 'processed' | 'delivered' | 'cancelled'

export type Order = {
  order_id: string
  user_id: string
  address: Address
  items: OrderItem[]
  fulfillments: {tracking_id: string[]; item_ids: string[]}[]
  status: OrderStatus
  payment_history: Payment[]
}

export type User = {
  user_id: string
  name: {first_name: string; last_name: string}
  address: Address
  email: string
  payment_methods: Record<string, PaymentMethod>
  orders: string[]
}

export type World = {products: Map<string, Product>; users: Map<string, User>; orders: Map<string, Order>}

/** Product types and the option values their variants combine; ours, in the spirit of the original catalogue. */
const CATALOGUE: readonly [string, Record<string, readonly string[]>, number, number][] = [
  ['Trail Jacket', {size: ['S', 'M', 'L', 'XL'], colour: ['moss', 'slate', 'rust']}, 88, 140],
  ['Walking Boots', {size: ['8', '9', '10', '11'], material: ['leather', 'synthetic']}, 95, 180],
  ['Desk Lamp', {colour: ['black', 'white', 'brass'], brightness: ['low', 'high']}, 28, 65],
  ['Insulated Bottle', {capacity: ['500ml', '750ml', '1000ml'], colour: ['teal', 'sand', 'black']}, 18, 42],
  ['Mechanical Keyboard', {switches: ['linear', 'tactile', 'clicky'], layout: ['compact', 'full size'], backlight: ['none', 'white', 'RGB']}, 70, 210],
  ['Smart Thermostat', {compatibility: ['HomeHub', 'OpenThread', 'VoiceMate'], colour: ['white', 'graphite']}, 120, 260],
  ['Day Pack', {volume: ['18L', '24L', '30L'], colour: ['navy', 'olive', 'grey']}, 45, 110],
  ['Over-Ear Headphones', {connection: ['wired', 'wireless'], colour: ['black', 'silver', 'blue'], noise_cancelling: ['no', 'yes']}, 60, 320],
  ['Electric Kettle', {capacity: ['1L', '1.5L', '1.7L'], material: ['glass', 'steel', 'plastic']}, 25, 90],
  ['Office Chair', {material: ['mesh', 'fabric', 'leather'], armrest: ['fixed', 'adjustable']}, 150, 480],
]

const FIRST = ['Amara', 'Bastian', 'Celeste', 'Dmitri', 'Elif', 'Farid', 'Greta', 'Hollis', 'Ilse', 'Joaquin', 'Kaia', 'Lorcan'] as const
const LAST = ['Okafor', 'Lindgren', 'Moreau', 'Petrov', 'Yilmaz', 'Haddad', 'Solberg', 'Tran', 'Vogel', 'Reyes', 'Nakamura', 'Byrne'] as const
const STREETS = ['Alder Lane', 'Birch Court', 'Cedar Row', 'Dune Road', 'Elm Parade', 'Fern Street', 'Granite Way', 'Harbor View', 'Ivy Close', 'Juniper Drive'] as const
const CITIES: readonly [string, string, string][] = [
  ['Portland', 'OR', '972'],
  ['Denver', 'CO', '802'],
  ['Austin', 'TX', '787'],
  ['Columbus', 'OH', '432'],
  ['Raleigh', 'NC', '276'],
  ['Madison', 'WI', '537'],
]
const BRANDS = ['visa', 'mastercard', 'amex'] as const

/** One order status per slot of a customer's order list: every customer has each kind the requests need. */
const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'pending', 'delivered', 'delivered', 'processed', 'cancelled', 'pending (item modified)']

const round2 = (n: number): number => Math.round(n * 100) / 100
const digits = (rng: Rng, n: number): string => Array.from({length: n}, (_, i) => String(rng.int(i === 0 ? 1 : 0, 9))).join('')

export function address(rng: Rng): Address {
  const [city, state, zip3] = rng.pick(CITIES)
  return {
    address1: `${rng.int(10, 999)} ${rng.pick(STREETS)}`,
    address2: rng.chance(0.5) ? `Apt ${rng.int(1, 40)}` : '',
    city,
    country: 'USA',
    state,
    zip: `${zip3}${String(rng.int(0, 99)).padStart(2, '0')}`,
  }
}

function buildProducts(rng: Rng): Map<string, Product> {
  const products = new Map<string, Product>()
  for (const [name, dims, lo, hi] of CATALOGUE) {
    const product_id = digits(rng, 10)
    const keys = Object.keys(dims)
    // Every combination of options is a variant; about one in six is out of stock.
    let combos: Options[] = [{}]
    for (const k of keys) combos = combos.flatMap((c) => dims[k]!.map((v) => ({...c, [k]: v})))
    const variants: Record<string, Variant> = {}
    combos.forEach((options, i) => {
      const item_id = digits(rng, 10)
      // The first two variants are always in stock: orders are drawn from them, and each has a sibling to change to.
      variants[item_id] = {item_id, options, available: i < 2 || !rng.chance(1 / 6), price: round2(lo + rng.next() * (hi - lo))}
    })
    products.set(product_id, {name, product_id, variants})
  }
  return products
}

function buildUsers(rng: Rng, products: Map<string, Product>): {users: Map<string, User>; orders: Map<string, Order>} {
  const users = new Map<string, User>()
  const orders = new Map<string, Order>()
  const catalogue = [...products.values()]
  const usedOrderIds = new Set<string>()
  for (let u = 0; u < FIRST.length; u++) {
    const first = FIRST[u]!
    const last = LAST[u]!
    const user_id = `${first.toLowerCase()}_${last.toLowerCase()}_${rng.int(1000, 9999)}`
    const home = address(rng)
    const card: PaymentMethod = {source: 'credit_card', id: `credit_card_${digits(rng, 7)}`, brand: rng.pick(BRANDS), last_four: digits(rng, 4)}
    const card2: PaymentMethod = {source: 'credit_card', id: `credit_card_${digits(rng, 7)}`, brand: rng.pick(BRANDS), last_four: digits(rng, 4)}
    const paypal: PaymentMethod = {source: 'paypal', id: `paypal_${digits(rng, 7)}`}
    // Half the customers hold a small gift card, half a large one: both sides of the balance rules.
    const gift: PaymentMethod = {source: 'gift_card', id: `gift_card_${digits(rng, 7)}`, balance: u % 2 === 0 ? round2(rng.int(5, 30) + rng.next()) : round2(rng.int(900, 1500) + rng.next())}
    const methods = [card, paypal, gift, card2]
    const user: User = {
      user_id,
      name: {first_name: first, last_name: last},
      address: home,
      email: `${first.toLowerCase()}.${last.toLowerCase()}${rng.int(10, 99)}@example.com`,
      payment_methods: Object.fromEntries(methods.map((m) => [m.id, m])),
      orders: [],
    }
    ORDER_STATUSES.forEach((status, k) => {
      let order_id: string
      do order_id = `#W${digits(rng, 7)}`
      while (usedOrderIds.has(order_id))
      usedOrderIds.add(order_id)
      // Two or three items of different product types, each one of the product's first two variants.
      const picked = new Set<Product>()
      const n = rng.int(2, 3)
      while (picked.size < n) picked.add(rng.pick(catalogue))
      const items: OrderItem[] = [...picked].map((p) => {
        const v = Object.values(p.variants)[rng.int(0, 1)]!
        return {name: p.name, product_id: p.product_id, item_id: v.item_id, price: v.price, options: v.options}
      })
      const total = round2(items.reduce((s, i) => s + i.price, 0))
      // Orders are paid by card or PayPal (the card for even slots), so a gift card is never the original method.
      const paidWith = k % 2 === 0 ? card.id : paypal.id
      const shipped = status === 'processed' || status === 'delivered'
      const order: Order = {
        order_id,
        user_id,
        address: home,
        items,
        fulfillments: shipped ? [{tracking_id: [digits(rng, 12)], item_ids: items.map((i) => i.item_id)}] : [],
        status,
        payment_history: [
          {transaction_type: 'payment', amount: total, payment_method_id: paidWith},
          ...(status === 'cancelled' ? [{transaction_type: 'refund' as const, amount: total, payment_method_id: paidWith}] : []),
        ],
      }
      orders.set(order_id, order)
      user.orders.push(order_id)
    })
    users.set(user_id, user)
  }
  return {users, orders}
}

export function buildWorld(): World {
  const rng = mulberry32(WORLD_SEED)
  const products = buildProducts(rng)
  const {users, orders} = buildUsers(rng, products)
  return {products, users, orders}
}

export const orderTotal = (o: Order): number => round2(o.items.reduce((s, i) => s + i.price, 0))

/** The other variants of an item's product, in stock or not. */
export function siblings(world: World, item: OrderItem): Variant[] {
  return Object.values(world.products.get(item.product_id)!.variants).filter((v) => v.item_id !== item.item_id)
}

export const money = (n: number): string => `$${n.toFixed(2)}`
export {round2}
