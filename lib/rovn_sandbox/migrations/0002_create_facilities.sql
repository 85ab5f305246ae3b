CREATE TABLE IF NOT EXISTS facilities (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    state      char(2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
