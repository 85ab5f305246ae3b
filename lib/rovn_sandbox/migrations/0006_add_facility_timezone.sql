ALTER TABLE facilities ADD COLUMN IF NOT EXISTS timezone text NOT NULL DEFAULT 'America/Chicago';
