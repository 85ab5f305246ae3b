CREATE INDEX IF NOT EXISTS credentials_expires_on_idx ON credentials (expires_on);
