CREATE TABLE IF NOT EXISTS facility_contacts (
    id          bigserial PRIMARY KEY,
    facility_id bigint NOT NULL REFERENCES facilities (id),
    name        text NOT NULL,
    phone       text,
    fax         text
);
