CREATE TABLE IF NOT EXISTS shift_requests (
    id          bigserial PRIMARY KEY,
    facility_id bigint NOT NULL REFERENCES facilities (id),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    role        text NOT NULL
);
CREATE INDEX IF NOT EXISTS shift_requests_facility_idx ON shift_requests (facility_id, starts_at);
