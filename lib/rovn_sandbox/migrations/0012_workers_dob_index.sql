-- Touches a PHI column (workers.date_of_birth): two-engineer review.
CREATE INDEX IF NOT EXISTS workers_date_of_birth_idx ON workers (date_of_birth);
