import type {Bundle} from '../../../src/bundle/schema.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../../src/model/types.js'
import {compileBundle, type CompiledBundle} from '../../../src/runtime/agent.js'
import {RateLimiter} from '../../../src/runtime/rate-limit.js'
import type {RequestTools, ToolAnswer, ToolExecution} from '../../../src/tools/sandbox.js'
import type {ToolErrorCode, TrafficRecord} from '../../../src/traffic/schema.js'
import {hash32} from '../../lib/prng.js'
import {playProduction, productionRecord} from '../../lib/production-record.js'
import {executedAnswer, toolLatency} from '../../lib/tool-answer.js'
import type {RequestSpec} from './sample.js'
import {type Order, type PaymentMethod, round2, type World} from './world.js'

/**
 * A stand-in for the production deployment that served the recorded traffic: the agent runtime
 * the shadow replays with, run on the v1 bundle (its tool contracts, policy and guardrails), a
 * hosted model (here: each request's scripted calls and answers, see sample.ts) and the shop of
 * world.ts as the tools. So every policy decision in the recording is the one v1's engine makes
 * for that call. The shop's tools keep τ-bench's own checks (a non-pending order cannot be
 * cancelled, and so on) as errors: what a call the policy let through would have met.
 */

export const TOOL_LATENCY: Record<string, [number, number]> = {
  find_user_id_by_email: [30, 90],
  find_user_id_by_name_zip: [40, 120],
  get_user_details: [40, 140],
  get_order_details: [50, 160],
  get_product_details: [40, 150],
  list_all_product_types: [30, 80],
  cancel_pending_order: [250, 700],
  modify_pending_order_address: [200, 520],
  modify_pending_order_payment: [300, 800],
  modify_pending_order_items: [300, 850],
  return_delivered_order_items: [250, 650],
  exchange_delivered_order_items: [300, 850],
  modify_user_address: [150, 420],
  transfer_to_human_agents: [400, 900],
}

type Answer = {result: unknown} | {error: {code: ToolErrorCode; message: string}}

const fail = (code: ToolErrorCode, message: string): Answer => ({error: {code, message}})

/** A deep copy, so a write's answer never changes the shop other requests read. */
const copy = <T>(v: T): T => structuredClone(v)

/** The price difference of changing `item_ids` to `new_item_ids` in `o`, or the error a bad change meets. */
function priceChange(w: World, o: Order, itemIds: string[], newIds: string[]): number | Answer {
  if (itemIds.length !== newIds.length) return fail('invalid_args', 'the lists of items and new items differ in length')
  let diff = 0
  for (const [k, id] of itemIds.entries()) {
    const item = o.items.find((i) => i.item_id === id)
    if (!item) return fail('not_found', `item ${id} is not in order ${o.order_id}`)
    const v = w.products.get(item.product_id)!.variants[newIds[k]!]
    if (!v?.available) return fail('invalid_args', `new item ${newIds[k]} is not an available variant of product ${item.product_id}`)
    diff += v.price - item.price
  }
  return round2(diff)
}

const giftShort = (m: PaymentMethod, amount: number): boolean => m.source === 'gift_card' && m.balance < amount

/** What a tool answers in the shop. Writes answer with the order as it would be afterwards; nothing is mutated. */
export function executeTool(w: World, name: string, args: Record<string, unknown>): Answer {
  const order = (): Order | null => w.orders.get(String(args.order_id)) ?? null
  const str = (k: string) => String(args[k])
  switch (name) {
    case 'find_user_id_by_email': {
      const u = [...w.users.values()].find((x) => x.email.toLowerCase() === str('email').toLowerCase())
      return u ? {result: u.user_id} : fail('not_found', 'no customer has that email')
    }
    case 'find_user_id_by_name_zip': {
      const u = [...w.users.values()].find(
        (x) => x.name.first_name.toLowerCase() === str('first_name').toLowerCase() && x.name.last_name.toLowerCase() === str('last_name').toLowerCase() && x.address.zip === str('zip'),
      )
      return u ? {result: u.user_id} : fail('not_found', 'no customer has that name and zip code')
    }
    case 'get_user_details': {
      const u = w.users.get(str('user_id'))
      return u ? {result: u} : fail('not_found', 'no such user')
    }
    case 'get_order_details': {
      const o = order()
      return o ? {result: o} : fail('not_found', 'no such order')
    }
    case 'get_product_details': {
      const p = w.products.get(str('product_id'))
      return p ? {result: p} : fail('not_found', 'no such product')
    }
    case 'list_all_product_types':
      return {result: Object.fromEntries([...w.products.values()].map((p) => [p.name, p.product_id]).sort())}
    case 'transfer_to_human_agents':
      return {result: 'Transfer successful'}
    case 'modify_user_address': {
      const u = w.users.get(str('user_id'))
      if (!u) return fail('not_found', 'no such user')
      const {user_id: _, ...address} = args
      return {result: {...copy(u), address}}
    }
  }
  // The order tools.
  const o = order()
  if (!o) return fail('not_found', 'no such order')
  const methods = w.users.get(o.user_id)!.payment_methods
  const pay = args.payment_method_id === undefined ? null : methods[str('payment_method_id')]
  if (pay === undefined) return fail('not_found', 'no such payment method')
  const next = copy(o)
  switch (name) {
    case 'cancel_pending_order': {
      if (o.status !== 'pending') return fail('conflict', 'only a pending order can be cancelled')
      next.status = 'cancelled'
      next.payment_history.push(...o.payment_history.map((p) => ({...p, transaction_type: 'refund' as const})))
      return {result: {...next, cancel_reason: args.reason}}
    }
    case 'modify_pending_order_address': {
      if (o.status !== 'pending') return fail('conflict', 'only a pending order can be modified')
      const {order_id: _, ...address} = args
      next.address = address as Order['address']
      return {result: next}
    }
    case 'modify_pending_order_payment': {
      if (o.status !== 'pending') return fail('conflict', 'only a pending order can be modified')
      const first = o.payment_history[0]!
      if (first.payment_method_id === pay!.id) return fail('invalid_args', 'the new payment method must differ from the current one')
      if (giftShort(pay!, first.amount)) return fail('invalid_args', 'the gift card balance does not cover the order total')
      next.payment_history.push({transaction_type: 'payment', amount: first.amount, payment_method_id: pay!.id}, {transaction_type: 'refund', amount: first.amount, payment_method_id: first.payment_method_id})
      return {result: next}
    }
    case 'modify_pending_order_items':
    case 'exchange_delivered_order_items': {
      const modify = name === 'modify_pending_order_items'
      if (o.status !== (modify ? 'pending' : 'delivered')) return fail('conflict', modify ? 'only a pending order can be modified' : 'only a delivered order can be exchanged')
      const diff = priceChange(w, o, args.item_ids as string[], args.new_item_ids as string[])
      if (typeof diff !== 'number') return diff
      if (giftShort(pay!, diff)) return fail('invalid_args', 'the gift card balance does not cover the price difference')
      if (modify) {
        const ids = args.new_item_ids as string[]
        ;(args.item_ids as string[]).forEach((id, k) => {
          const item = next.items.find((i) => i.item_id === id)!
          const v = w.products.get(item.product_id)!.variants[ids[k]!]!
          Object.assign(item, {item_id: v.item_id, price: v.price, options: v.options})
        })
        next.status = 'pending (item modified)'
        next.payment_history.push({transaction_type: diff > 0 ? 'payment' : 'refund', amount: Math.abs(diff), payment_method_id: pay!.id})
        return {result: next}
      }
      return {result: {...next, status: 'exchange requested', exchange_items: [...(args.item_ids as string[])].sort(), exchange_new_items: [...(args.new_item_ids as string[])].sort(), exchange_payment_method_id: pay!.id, exchange_price_difference: diff}}
    }
    case 'return_delivered_order_items': {
      if (o.status !== 'delivered') return fail('conflict', 'only a delivered order can be returned')
      if (pay!.source !== 'gift_card' && pay!.id !== o.payment_history[0]!.payment_method_id) return fail('invalid_args', 'a refund goes to the original payment method or a gift card')
      return {result: {...next, status: 'return requested', return_items: [...(args.item_ids as string[])].sort(), return_payment_method_id: pay!.id}}
    }
    default:
      return fail('not_found', `no tool ${name}`)
  }
}

/** The request's tools: the shop, with a latency drawn from the request id. */
class ShopTools implements RequestTools {
  readonly executions: ToolExecution[] = []
  readonly log: {name: string; answer: ToolAnswer}[] = []

  constructor(
    private readonly world: World,
    private readonly spec: RequestSpec,
  ) {}

  async call(name: string, args: Record<string, unknown>, attempt: number): Promise<ToolAnswer> {
    const out = executeTool(this.world, name, args)
    const answer = executedAnswer(out, toolLatency(TOOL_LATENCY, this.spec.record.id, name, this.log.length))
    this.executions.push({name, args, attempt, source: 'recorded'})
    this.log.push({name, answer})
    return answer
  }
}

const tokens = (chars: number): number => Math.ceil(chars / 4)

/**
 * The production model for one request: proposes the spec's calls one per turn and then answers;
 * when a call is refused or fails (other than one it expected might, such as a lookup by an old
 * email) it stops and says why.
 */
function productionModel(spec: RequestSpec): ModelClient {
  return {
    id: 'hosted:retail-orders',
    async chat(request: ChatRequest): Promise<ChatResponse> {
      const told = request.messages.filter((m) => m.role === 'tool')
      const last = told.at(-1)
      let content = ''
      let toolCalls = spec.calls.slice(told.length, told.length + 1)
      if (last && !spec.tolerated.includes(told.length - 1)) {
        const payload = JSON.parse(last.content) as {ok: boolean; error?: {code: string; message: string}}
        if (!payload.ok) {
          toolCalls = []
          content = spec.answers.refused ?? (payload.error?.code === 'budget_exceeded' ? 'Too many requests just now; please try again in a minute.' : '')
          if (content === '') throw new Error(`${spec.record.id}: no answer for a refusal ${payload.error?.code} (${payload.error?.message})`)
        }
      }
      if (toolCalls.length === 0 && content === '') content = spec.answers.done
      const inChars = request.messages.reduce((n, m) => n + m.content.length, 0) + JSON.stringify(request.tools).length
      const outChars = content.length + JSON.stringify(toolCalls).length
      const h = hash32(`${spec.record.id}|model|${told.length}`)
      return {
        message: {role: 'assistant', content, tool_calls: toolCalls},
        input_tokens: tokens(inChars),
        output_tokens: tokens(outChars) + 4,
        latency_ms: toolCalls.length > 0 ? 420 + (h % 700) : 600 + content.length * 3 + (h % 400),
        done_reason: 'stop',
      }
    },
  }
}

export type Production = {compiled: CompiledBundle; limiter: RateLimiter}

export function productionFor(bundle: Bundle): Production {
  return {compiled: compileBundle(bundle), limiter: new RateLimiter()}
}

/** Runs one request through the simulated production deployment and returns the traffic record. */
export async function simulate(spec: RequestSpec, prod: Production, world: World): Promise<TrafficRecord> {
  const tools = new ShopTools(world, spec)
  const trace = await playProduction(spec.record, prod, productionModel(spec), tools)
  const record: TrafficRecord = {...spec.record, attacks: [], production: productionRecord(spec.record.id, prod.compiled, trace, tools.log)}
  return record
}

