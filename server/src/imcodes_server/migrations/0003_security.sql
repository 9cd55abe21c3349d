-- Security (issue 4): rate limits, devices, TOTP second factor. Secrets are stored hashed (recovery codes, pending
-- sign-in tokens) or encrypted (TOTP seeds).

ALTER TABLE web_sessions
    ADD COLUMN last_used_at TIMESTAMPTZ,
    ADD COLUMN user_agent VARCHAR(255) NOT NULL DEFAULT '';

CREATE TABLE auth_failures (
    id BIGSERIAL PRIMARY KEY,
    bucket VARCHAR(200) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX auth_failures_bucket_idx ON auth_failures (bucket, created_at);
CREATE INDEX auth_failures_created_idx ON auth_failures (created_at);

CREATE TABLE pending_sign_ins (
    id SERIAL PRIMARY KEY,
    user_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE totp_credentials (
    id SERIAL PRIMARY KEY,
    user_id INT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    secret_encrypted TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    confirmed_at TIMESTAMPTZ,
    last_used_step BIGINT
);

CREATE TABLE recovery_codes (
    id SERIAL PRIMARY KEY,
    user_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash VARCHAR(64) NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at TIMESTAMPTZ
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);
