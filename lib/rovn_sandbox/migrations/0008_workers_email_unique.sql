-- rovn:no-transaction  (CREATE INDEX CONCURRENTLY cannot run inside a transaction)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS workers_email_key ON workers (email);
