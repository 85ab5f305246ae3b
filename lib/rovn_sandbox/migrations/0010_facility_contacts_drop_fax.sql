-- Nobody faxes. This drops data: it cannot be reversed by a migration, only by a snapshot restore.
ALTER TABLE facility_contacts DROP COLUMN IF EXISTS fax;
