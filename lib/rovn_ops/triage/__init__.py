"""Incident triage (§5, §6): gather what the service, its database and its users'
errors say, classify it (P0, P1 or no incident, with the rule that decided), put
changes and symptoms on one timeline, page or post as the severity says (once per
incident), and draft the P0 post-mortem.

One module per subject: window (time span, business hours), metrics, alarms, logs,
sentry, changes (audit_log), gather (all of them), classify, correlate, notify,
postmortem, plots, summary.
"""
