"""The database and GitHub, reached with credentials held as masked secret values."""
