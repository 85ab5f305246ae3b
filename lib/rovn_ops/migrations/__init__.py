"""Forward-only, idempotent migrations (§3): files, lint, PHI rule, snapshot, engine, reversal."""
