-- One-time pairing codes (imcodes_server.pairing): made in the web client, spent by a daemon for its own token.
CREATE TABLE pairing_codes (
    id SERIAL PRIMARY KEY,
    user_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash VARCHAR(64) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    machine_id VARCHAR(128)
);
CREATE INDEX pairing_codes_user_idx ON pairing_codes (user_id);
