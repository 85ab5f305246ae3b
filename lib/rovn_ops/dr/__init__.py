"""Disaster recovery (§11): the cross-region cold standby's readiness, and the failover."""
