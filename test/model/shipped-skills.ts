import codingSkill from '../../scenarios/coding-agent/skill/index.js'
import ticketsSkill from '../../scenarios/enterprise-tickets/skill/index.js'
import supportSkill from '../../scenarios/support-refunds/skill/index.js'
import type {ScriptedSkill} from '../../src/model/scripted/skills.js'

/**
 * Every shipped skill registered at once: the coding and ticket skills, which claim a request by
 * their own tools, then the support agent. Tests that check one skill leaves another's requests
 * alone ask this registry.
 */
export const SHIPPED_SKILLS: readonly ScriptedSkill[] = [codingSkill, ticketsSkill, supportSkill]
