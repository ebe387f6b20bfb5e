"""The exit codes of every `tiers` command, one per kind of failure (docs/cli.md lists them).

A scheduler treats every code but 0 as a failure; the code says which kind, so an alert can
say what to look at."""

from __future__ import annotations

OK = 0
FAILED = 1  # an error of no other kind, e.g. an output file that cannot be written
USAGE = 2  # the command line or the ruleset is invalid (bad option values too)
PLUGIN = 3  # a plugin failed to load
DATA = 4  # the input data cannot be used as the ruleset describes
ACTIONS = 5  # actions failed or could not be planned
STORE = 6  # the state store cannot be found, opened or used
LOCKED = 7  # another run of the same ruleset holds the store's lock
NOT_FOUND = 8  # the customer id is not in the data or the store
ENGINE = 9  # the engine (DuckDB, Spark) cannot start

MEANING = {
    OK: "success",
    FAILED: "an error of no other kind, e.g. an output file that cannot be written",
    USAGE: "the command line or the ruleset is invalid",
    PLUGIN: "a plugin failed to load",
    DATA: "the data cannot be used",
    ACTIONS: "actions failed or could not be planned",
    STORE: "the state store cannot be found, opened or used",
    LOCKED: "another run of the same ruleset holds the store's lock",
    NOT_FOUND: "the customer id is unknown",
    ENGINE: "the engine cannot start",
}
