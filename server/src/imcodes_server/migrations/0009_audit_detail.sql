-- Share create/revoke are audited too (imcodes_server.sharing.record_share): whom the share names.
ALTER TABLE audit_events ADD COLUMN detail VARCHAR(200);
