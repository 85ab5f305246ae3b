-- National Provider Identifier (public, not PHI).
ALTER TABLE workers ADD COLUMN IF NOT EXISTS npi text;
CREATE INDEX IF NOT EXISTS workers_npi_idx ON workers (npi);
