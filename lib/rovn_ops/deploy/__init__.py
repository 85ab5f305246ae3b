"""The deploy (§2): S3 source → CodeBuild → ECR → a new task definition revision →
a rolling ECS deploy, verified against the world. One module per subject:
checks (the preflight's verdicts), source (the checkout and §9's hygiene), build
(CodeBuild), image (ECR tag and scan gate), taskdef (the new revision and §8/§9),
rollout (update-service and the watch by deployment id), verify (the world after),
steps (the runbook's cells)."""
