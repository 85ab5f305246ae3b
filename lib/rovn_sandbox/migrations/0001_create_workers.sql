-- Workers: nurses and allied-health professionals. ssn and date_of_birth are PHI.
CREATE TABLE IF NOT EXISTS workers (
    id            bigserial PRIMARY KEY,
    full_name     text NOT NULL,
    email         text NOT NULL,
    ssn           text,
    date_of_birth date,
    created_at    timestamptz NOT NULL DEFAULT now()
);
