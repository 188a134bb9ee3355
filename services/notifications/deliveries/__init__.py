"""The delivery log: one notification per (event, rule, user), one delivery per channel."""
