import {Flags} from '@oclif/core'
import type {ImportMapping} from '../traffic/imported.js'

/** The tenant/user/role mapping flags every command that imports a foreign log takes (traffic import, init). */
export const importMappingFlags = {
  'tenant-attr': Flags.string({description: 'attribute (otel) or metadata key (other formats) holding the tenant; default understudy.tenant / tenant'}),
  'role-attr': Flags.string({description: "attribute (otel) or metadata key (other formats) holding the caller's role; default understudy.role / role"}),
  'user-attr': Flags.string({description: "attribute (otel) or metadata key (other formats) holding the user; default the format's own user field"}),
  'default-tenant': Flags.string({description: 'tenant of a request that has none'}),
  'default-role': Flags.string({description: 'role of a request that has none'}),
  'default-user': Flags.string({description: 'user of a request that has none'}),
  turns: Flags.boolean({
    description: 'openai/anthropic logs: one multi-turn request per conversation (its later user messages as turns), not one request per user message',
    default: false,
  }),
}

type MappingFlagValues = {[K in Exclude<keyof typeof importMappingFlags, 'turns'>]?: string | undefined} & {turns?: boolean}

export function importMapping(flags: MappingFlagValues): ImportMapping {
  return {
    ...(flags['tenant-attr'] !== undefined ? {tenantField: flags['tenant-attr']} : {}),
    ...(flags['role-attr'] !== undefined ? {roleField: flags['role-attr']} : {}),
    ...(flags['user-attr'] !== undefined ? {userField: flags['user-attr']} : {}),
    ...(flags['default-tenant'] !== undefined ? {defaultTenant: flags['default-tenant']} : {}),
    ...(flags['default-role'] !== undefined ? {defaultRole: flags['default-role']} : {}),
    ...(flags['default-user'] !== undefined ? {defaultUser: flags['default-user']} : {}),
    ...(flags.turns === true ? {turns: true} : {}),
  }
}
