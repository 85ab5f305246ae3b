"""audit_log, append-only and chained, and the notifications that go with it."""
