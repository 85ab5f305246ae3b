"""Runbooks run inside Rōvn's VPC as Fargate tasks (`rovn-ops remote run`): the
database is private, so migrations, the §7 gate and audit_log writes run where they
can reach it. Parameters are checked here first, exactly as `rovn-ops run` checks
them, so bad input never starts a task; the task then runs `rovn-ops run` itself."""
