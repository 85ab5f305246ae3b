ALTER TABLE credentials ADD COLUMN IF NOT EXISTS verified_at timestamptz;
-- Constraints have no IF NOT EXISTS in PostgreSQL: drop-if-exists then add is the guard.
ALTER TABLE credentials DROP CONSTRAINT IF EXISTS credentials_kind_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_kind_check CHECK (kind IN ('RN', 'LPN', 'CNA', 'BLS', 'ACLS'));
