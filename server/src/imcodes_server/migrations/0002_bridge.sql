-- The WebSocket bridge (imcodes_server.bridge.models): sessions per machine, the persisted timeline, and the
-- durable queue of commands for an offline daemon.

CREATE TABLE bridge_sessions (
    id BIGSERIAL PRIMARY KEY,
    machine_id VARCHAR(128) NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    name VARCHAR(128) NOT NULL,
    info JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    removed_at TIMESTAMPTZ,
    CONSTRAINT bridge_sessions_machine_name_key UNIQUE (machine_id, name)
);

-- Unique on (machine, session, epoch, seq): a daemon resending its journal after a reconnect stores nothing twice.
-- The unique index also serves replay (ORDER BY epoch, seq) and hello's "last persisted seq per session".
CREATE TABLE bridge_timeline (
    id BIGSERIAL PRIMARY KEY,
    machine_id VARCHAR(128) NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    session VARCHAR(128) NOT NULL,
    epoch INT NOT NULL,
    seq BIGINT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    kind VARCHAR(64) NOT NULL,
    data JSONB NOT NULL,
    CONSTRAINT bridge_timeline_event_key UNIQUE (machine_id, session, epoch, seq)
);

CREATE TABLE bridge_command_queue (
    id BIGSERIAL PRIMARY KEY,
    machine_id VARCHAR(128) NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    user_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_ref VARCHAR(64) NOT NULL,
    frame JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    answer JSONB,
    CONSTRAINT bridge_command_queue_client_ref_key UNIQUE (user_id, client_ref)
);
-- Undelivered commands of a machine, in order: what a reconnecting daemon is sent.
CREATE INDEX bridge_command_queue_pending_idx ON bridge_command_queue (machine_id, id) WHERE delivered_at IS NULL;
