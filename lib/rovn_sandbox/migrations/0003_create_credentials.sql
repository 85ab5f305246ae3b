-- Licenses and certifications. license_number is PHI.
CREATE TABLE IF NOT EXISTS credentials (
    id             bigserial PRIMARY KEY,
    worker_id      bigint NOT NULL REFERENCES workers (id),
    kind           text NOT NULL,
    license_number text,
    state          char(2) NOT NULL,
    expires_on     date NOT NULL
);
