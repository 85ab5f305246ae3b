"""The sandbox: moto over HTTP, PostgreSQL, the app's /health and a webhook sink,
seeded with a Rōvn-like world. Domain code never imports this package; it reaches
the sandbox through endpoints and environment variables, as it reaches production."""
