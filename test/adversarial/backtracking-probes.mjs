// Worker for backtracking.test.ts: runs every regular expression and text function on the model
// request path (guardrail patterns, redaction, plan parsing, the scripted model and its shipped
// skills) over hostile inputs, one case at a time, reporting each case before and after it runs,
// so the test can stop a case that never ends (a synchronous regex cannot be interrupted in its own
// thread). Imports the built code (dist/), as the CLI tests do.
import path from 'node:path'
import {parentPort, workerData} from 'node:worker_threads'

const root = workerData.root
const dist = (p) => import(path.join(root, 'dist', p))

const [patterns, redact, messages, preModel, scripted, generic, conversation, load, compile] = await Promise.all([
  dist('src/runtime/guardrails/patterns.js'),
  dist('src/runtime/redact.js'),
  dist('src/runtime/messages.js'),
  dist('src/runtime/guardrails/pre-model.js'),
  dist('src/model/scripted.js'),
  dist('src/model/scripted/generic.js'),
  dist('src/model/scripted/conversation.js'),
  dist('src/bundle/load.js'),
  dist('src/runtime/compile.js'),
])

/** Hostile text: long runs of what each pattern's quantifiers and anchors feed on, `size` characters each. */
const UNITS = [
  'a', 'A', '1', '0', ' ', '\n', '\t', '\r\n', 'a ', 'a\n', '1 ', '1-', 'a.', 'a@', 'a-', 'a_', '_a', '.', '@', '-', '"', "'", '=', ':',
  'aA', 'x@a.', '+1', '(123) ', '1.', '$', 'https://', 'ORD-', 'ord_', '{{', '{{ ', '<', '<!-- ', '```\n', '\n```',
  '-----BEGIN PRIVATE KEY-----', '-----BEGIN RSA ', 'Bearer ', 'bearer x', 'sk-', 'sk-1', 'eyJ', 'eyJaaaaaaaaaa.', 'AKIA', 'ghp_', 'xoxb-',
  'password', 'password= ', 'token:', 'api_key="', 'secret ',
  'ignore ', 'previous ', 'ignore previous ', 'the ', 'disregard ', 'you are now ', 'you ', 'system ', 'system:', 'assistant :', 'DAN ', '[SYSTEM ',
  'send to ', 'send ', 'to: ', 'email ', 'order_id: "', 'order_id:', 'refund ', 'order ', 'ticket ', 'file ',
  '<entry key="', '<document id="', '<memory>', '<evidence>', '&amp;',
]

export function hostileInputs(size) {
  return UNITS.map((u) => ({name: JSON.stringify(u), text: u.repeat(Math.ceil(size / u.length)).slice(0, size)}))
}

const probes = []
const probe = (name, fn) => probes.push({name, fn})

for (const p of patterns.BUILTIN_INJECTION_PATTERNS) {
  const re = new RegExp(p.source, p.flags)
  probe(`injection pattern ${p.id}`, (t) => re.test(t))
}
const matcher = patterns.compileInjectionMatcher([])
probe('injection matcher (input)', (t) => matcher(t, 'input'))
probe('injection matcher (document)', (t) => matcher(t, 'document'))
for (const p of patterns.SECRET_PATTERNS) {
  const re = new RegExp(p.re.source, p.re.flags)
  probe(`secret pattern ${p.kind}`, (t) => t.replace(re, ''))
}
for (const [kind, re] of Object.entries(patterns.PII_PATTERNS)) probe(`pii pattern ${kind}`, (t) => t.replace(new RegExp(re.source, `${re.flags.replace('g', '')}g`), ''))
probe('secret screen', (t) => patterns.SECRET_SCREEN.test(t))
probe('findSecrets', (t) => patterns.findSecrets(t))
probe('findSecrets (leaks)', (t) => patterns.findSecrets(t, {leaksOnly: true}))
probe('detectPii', (t) => patterns.detectPii(t))
const redactor = redact.createRedactor()
probe('redactText', (t) => redactor.redactText(t))
probe('normaliseText', (t) => preModel.normaliseText(t))
probe('parsePlan', (t) => messages.parsePlan(t))
probe('parsePlan (fenced)', (t) => messages.parsePlan('```json\n' + t + '\n```'))
probe('scripted EMAIL_RE', (t) => generic.EMAIL_RE.test(t))
probe('parseConversation', (t) => conversation.parseConversation([{role: 'system', content: 's'}, {role: 'system', content: `<memory>${t}`}, {role: 'system', content: `<evidence>${t}`}, {role: 'user', content: t}]))

/** The scripted model over a request whose user message, document or tool result is the hostile text. */
function modelProbes(label, model, system, tools) {
  const ask = (messages) => model.chat({model: 'scripted', messages, tools, options: {temperature: 0, seed: 0}})
  const names = tools.map((t) => t.function.name)
  probe(`${label}: user message`, (t) => ask([{role: 'system', content: system}, {role: 'user', content: t}]))
  probe(`${label}: user message naming every tool`, (t) => ask([{role: 'system', content: system}, {role: 'user', content: `${names.join(' ')} ${t}`}]))
  probe(`${label}: user message with fields`, (t) => ask([{role: 'system', content: system}, {role: 'user', content: `order ORD-123 email a@b.co ticket INC-1 file a.ts: ${t}`}]))
  probe(`${label}: document`, (t) =>
    ask([{role: 'system', content: system}, {role: 'system', content: `<evidence>\n<document id="d" source="s" trust="trusted">\n${t}\n</document>\n</evidence>`}, {role: 'user', content: 'help'}]),
  )
  probe(`${label}: tool result`, (t) =>
    ask([
      {role: 'system', content: system},
      {role: 'user', content: `${names[0] ?? ''} please`},
      {role: 'assistant', content: '', tool_calls: [{name: names[0] ?? 'x', arguments: {}}]},
      {role: 'tool', tool_name: names[0] ?? 'x', content: JSON.stringify({ok: true, result: {text: t}})},
      {role: 'tool', tool_name: names[0] ?? 'x', content: t},
    ]),
  )
}

const genericTools = [{type: 'function', function: {name: 'send_email', description: '', parameters: {type: 'object', properties: {to: {type: 'string'}, query: {type: 'string'}, order_id: {type: 'string'}, amount: {type: 'number'}}}}}]
modelProbes('generic model', scripted.createScriptedModel({name: 'scripted', seed: 0}), 'You are helpful.', genericTools)
for (const scenario of ['support-refunds', 'enterprise-tickets', 'coding-agent']) {
  const skill = (await import(path.join(root, 'dist', 'scenarios', scenario, 'skill', 'index.js'))).default
  const bundle = await load.loadBundle(path.join(root, 'scenarios', scenario, 'v2'))
  const compiled = compile.compileBundle(bundle)
  const system = Object.values(bundle.templates).join('\n')
  modelProbes(`${scenario} skill`, scripted.createScriptedModel({name: 'scripted', seed: 0, skills: [skill]}), system, compiled.toolSpecs)
}

const inputs = hostileInputs(workerData.size)
const cases = probes.flatMap((p) => inputs.map((i) => ({name: `${p.name} on ${i.name}`, fn: p.fn, text: i.text})))
parentPort.postMessage({kind: 'count', count: cases.length})
for (let i = workerData.from; i < cases.length; i++) {
  const c = cases[i]
  parentPort.postMessage({kind: 'start', index: i, name: c.name})
  const t0 = performance.now()
  await c.fn(c.text)
  parentPort.postMessage({kind: 'done', index: i, name: c.name, ms: performance.now() - t0})
}
parentPort.postMessage({kind: 'end'})
