-- Sharing machines and sessions with other users, and the audit trail of non-owners' commands
-- (imcodes_server.models_sharing, imcodes_server.sharing).
CREATE TABLE shares (
    id SERIAL PRIMARY KEY,
    machine_id VARCHAR(128) NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    session VARCHAR(128),
    grantee_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role VARCHAR(16) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
CREATE INDEX shares_grantee_idx ON shares (grantee_id) WHERE revoked_at IS NULL;
CREATE INDEX shares_machine_idx ON shares (machine_id);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    machine_id VARCHAR(128) NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    session VARCHAR(128),
    user_id INT REFERENCES users (id) ON DELETE SET NULL,
    user_name VARCHAR(120) NOT NULL,
    role VARCHAR(16) NOT NULL,
    frame_type VARCHAR(64) NOT NULL,
    allowed BOOLEAN NOT NULL,
    text_length INT,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_machine_idx ON audit_events (machine_id, at);
