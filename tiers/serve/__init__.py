"""`tiers serve`: an ASGI app over a ruleset and its state store (API, docs and console).

It only reads: lookups come from one evaluation kept in memory per recorded run, simulations
from the ruleset's own engine on one customer's rows. Nothing is planned, recorded or applied.
"""
