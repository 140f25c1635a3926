"""Pure routing: the directory snapshot types, the escalation policy and the planner.

Its modules are imported by name (`router.plan`, `router.policy`, `router.settings` — the
`[routing]` section, on pydantic): nothing is re-exported here, so loading the settings does not
load the planner (issue #17: a CLI listing pays for every module it imports).
"""
