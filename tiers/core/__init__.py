"""The small core of tiers: hookspecs, plugin manager, ruleset schema, engine."""
