"""Rollback (§7): the ECS path back to a verified revision."""
