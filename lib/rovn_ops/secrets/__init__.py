"""Secret rotation (§8): one module per subject.

policy (cadences, classes), inventory (ages, due/overdue), values (masked values),
versions (stage labels, tokens), steps (AWS's four steps), one module per class
(database, jwks, provider, mcp), tasks (rolling the service), drift (who may read
secrets), rotation (the runbook's flow: plan, execute, verify, log)."""
