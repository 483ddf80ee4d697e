import {mulberry32} from '../../lib/prng.js'

/**
 * The simulated enterprise behind the scenario: three tenants, their staff (by role), employees,
 * tickets, existing change requests and runbooks. Built from a fixed seed independent of the
 * traffic seed, so fixtures.yaml (answers for calls production never made) fits traffic of any
 * seed and size.
 */
export const TENANTS = ['northwind', 'contoso', 'fabrikam'] as const
export type Tenant = (typeof TENANTS)[number]

export const ROLES = ['requester', 'agent', 'change_manager', 'admin', 'auditor'] as const
export type Role = (typeof ROLES)[number]

export const WORLD_SEED = 20250901
export const TRAFFIC_START = Date.parse('2025-09-01T07:00:00Z')
export const TRAFFIC_WINDOW_MS = 7 * 86_400_000

export const SYSTEMS = ['vpn', 'github', 'jira', 'grafana', 'wiki', 'billing-app', 'hr-portal'] as const
export const CHANGE_SYSTEMS = ['payments-api', 'web-frontend', 'k8s-prod', 'billing-app', 'auth-service', 'search-api'] as const
export const GROUPS = ['service-desk', 'network-team', 'dba-team', 'security-team'] as const

export type Person = {username: string; first: string; email: string}
export type Staff = {user: string; role: Role}

export type Ticket = {
  ticket_id: string
  tenant: Tenant
  title: string
  status: 'open' | 'in_progress' | 'pending' | 'resolved'
  priority: 'low' | 'medium' | 'high'
  assignee: string
  requester: string
  updated_at: string
}

export type Change = {change_id: string; tenant: Tenant; system: string; environment: 'production' | 'staging'; risk: 'low' | 'medium' | 'high'; status: 'approved' | 'scheduled'}

export type Runbook = {id: string; title: string; keywords: string[]; content: string}

export type World = {
  employees: Record<Tenant, Person[]>
  staff: Record<Tenant, Staff[]>
  tickets: Map<string, Ticket>
  ticketsOf: Record<Tenant, Ticket[]>
  changes: Map<string, Change>
  changesOf: Record<Tenant, Change[]>
  runbooks: Record<Tenant, Runbook[]>
}

const FIRST = ['maria', 'james', 'aisha', 'chen', 'olga', 'pedro', 'fatima', 'liam', 'sofia', 'kenji', 'amara', 'lucas', 'ingrid', 'ravi', 'nadia', 'tomas', 'elena', 'yusuf', 'hana', 'marco']
const LAST = ['lopez', 'smith', 'khan', 'wang', 'petrova', 'silva', 'haddad', 'murphy', 'rossi', 'tanaka', 'okafor', 'martin', 'berg', 'patel', 'aziz', 'novak', 'garcia', 'demir', 'kim', 'bianchi']
const STAFF_COUNTS: Record<Role, number> = {requester: 6, agent: 4, change_manager: 2, admin: 1, auditor: 1}
const TITLES = [
  'VPN drops every few minutes',
  'Cannot log in to github',
  'Laptop encryption prompt loops',
  'Grafana dashboards show no data',
  'Printer on floor 3 offline',
  'Billing app slow at month end',
  'HR portal shows wrong manager',
  'MFA token lost',
  'Jira board permissions wrong',
  'Email sync fails on phone',
]

function runbooksFor(tenant: Tenant): Runbook[] {
  const r = (slug: string, title: string, keywords: string[], content: string): Runbook => ({id: `rb-${tenant}-${slug}`, title, keywords, content})
  return [
    r('vpn', 'VPN troubleshooting', ['vpn', 'token', 'disconnect', 'drops', 'connect'], 'Re-enrol the VPN token from the self-service portal, then reconnect with the corporate profile. If the connection still drops, collect the client log and attach it to the ticket.'),
    r('password', 'Password self-service', ['password', 'reset', 'locked', 'login', 'expired'], 'Employees can reset their own password at the self-service portal after answering their security questions. Accounts unlock automatically 15 minutes after five failed attempts.'),
    r('mfa', 'MFA device replacement', ['mfa', 'token', 'authenticator', 'phone', 'device'], 'Register the new authenticator from the security settings page while signed in on a trusted device. Lost devices must be reported to the security team first.'),
    r('access', 'Requesting system access', ['access', 'permission', 'grant', 'request', 'role'], 'Access is requested per system and level (read, write or admin); admin access always needs an approver. Include a business justification so the audit trail is complete.'),
    r('prod-db', 'Production database access', ['prod', 'database', 'db', 'sql', 'production'], 'Only admins may be granted access to prod-db, and only read access without an approved change. Use the read replica for reporting queries.'),
    r('change', 'Change management', ['change', 'deploy', 'production', 'approval', 'release', 'rollback'], 'Every production change needs an approved change request before it is applied. Staging changes can be applied directly by a change manager.'),
    r('k8s-restart', 'Restarting a service on Kubernetes', ['restart', 'kubernetes', 'k8s', 'pod', 'service', 'rollout'], 'Use a rolling restart of the deployment rather than deleting pods, and watch the error rate for ten minutes afterwards. In production this is a change and needs a change request.'),
    r('printer', 'Printer problems', ['printer', 'print', 'queue', 'paper'], 'Remove the printer from the device list and add it again from the print server. Jammed queues are cleared by the service desk.'),
    r('encryption', 'Laptop disk encryption', ['encryption', 'laptop', 'bitlocker', 'filevault', 'disk'], 'Disk encryption must stay on; if the recovery prompt loops, the service desk can read the recovery key from the device record after verifying the user.'),
  ]
}

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

export function buildWorld(): World {
  const rng = mulberry32(WORLD_SEED)
  const employees = {} as World['employees']
  const staff = {} as World['staff']
  const tickets = new Map<string, Ticket>()
  const ticketsOf = {} as World['ticketsOf']
  const changes = new Map<string, Change>()
  const changesOf = {} as World['changesOf']
  const runbooks = {} as World['runbooks']
  TENANTS.forEach((tenant, ti) => {
    const used = new Set<string>()
    const person = (): Person => {
      for (;;) {
        const first = rng.pick(FIRST)
        const username = `${first}.${rng.pick(LAST)}${rng.chance(0.2) ? rng.int(2, 9) : ''}`
        if (used.has(username)) continue
        used.add(username)
        return {username, first, email: `${username}@${tenant}.example.com`}
      }
    }
    employees[tenant] = Array.from({length: 24}, person)
    const s: Staff[] = []
    for (const role of ROLES) for (let i = 0; i < STAFF_COUNTS[role]; i++) s.push({user: person().username, role})
    staff[tenant] = s
    const agents = s.filter((x) => x.role === 'agent').map((x) => x.user)
    ticketsOf[tenant] = []
    for (let i = 1; i <= 40; i++) {
      const t: Ticket = {
        ticket_id: `INC-${(ti + 1) * 100000 + i}`,
        tenant,
        title: rng.pick(TITLES),
        status: rng.pick(['open', 'in_progress', 'in_progress', 'pending', 'resolved'] as const),
        priority: rng.pick(['low', 'medium', 'medium', 'high'] as const),
        assignee: rng.chance(0.7) ? rng.pick(agents) : rng.pick(GROUPS),
        requester: rng.pick(employees[tenant]).username,
        updated_at: iso(TRAFFIC_START - rng.int(1, 240) * 3_600_000),
      }
      tickets.set(t.ticket_id, t)
      ticketsOf[tenant].push(t)
    }
    changesOf[tenant] = []
    for (let i = 1; i <= 20; i++) {
      const environment = rng.chance(0.75) ? 'production' : 'staging'
      const c: Change = {
        change_id: `CHG-${(ti + 1) * 10000 + i}`,
        tenant,
        system: rng.pick(CHANGE_SYSTEMS),
        environment,
        risk: rng.pick(['low', 'low', 'medium', 'high'] as const),
        status: environment === 'production' ? 'approved' : 'scheduled',
      }
      changes.set(c.change_id, c)
      changesOf[tenant].push(c)
    }
    runbooks[tenant] = runbooksFor(tenant)
  })
  return {employees, staff, tickets, ticketsOf, changes, changesOf, runbooks}
}

/** What get_ticket answers. */
export function ticketView(t: Ticket): Record<string, unknown> {
  return {ticket_id: t.ticket_id, title: t.title, status: t.status, priority: t.priority, assignee: t.assignee, requester: t.requester, updated_at: t.updated_at}
}

/** search_runbooks: runbooks ranked by keyword overlap with the query, best first. */
export function searchRunbooks(runbooks: readonly Runbook[], query: string, topK: number): {id: string; title: string; snippet: string}[] {
  const words = new Set(query.toLowerCase().match(/[a-z0-9]+/g) ?? [])
  return runbooks
    .map((r, i) => ({r, i, score: r.keywords.filter((k) => words.has(k)).length}))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, topK)
    .map(({r}) => ({id: r.id, title: r.title, snippet: r.content}))
}

export function tenantOfTicket(ticketId: string): Tenant | null {
  const n = Number(ticketId.slice(4, 5))
  return TENANTS[n - 1] ?? null
}
