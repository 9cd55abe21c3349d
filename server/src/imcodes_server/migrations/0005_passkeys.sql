-- Passkeys (imcodes_server.passkeys): WebAuthn credentials (public material only) and single-use challenges.
CREATE TABLE passkeys (
    id SERIAL PRIMARY KEY,
    user_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id VARCHAR(1400) NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    user_handle VARCHAR(128) NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    name VARCHAR(120) NOT NULL DEFAULT '',
    transports VARCHAR(255) NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

CREATE TABLE passkey_challenges (
    id SERIAL PRIMARY KEY,
    challenge_hash VARCHAR(64) NOT NULL UNIQUE,
    purpose VARCHAR(16) NOT NULL,
    user_id INT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX passkey_challenges_expires_idx ON passkey_challenges (expires_at);
