-- Which credential minted a WebSocket ticket (imcodes_server.auth.mint_ws_ticket): a browser session or an API key.
-- Ending the session or deleting the key deletes its unspent tickets; auth.ticket_grant also refuses a ticket whose
-- session expired or whose key was revoked.
ALTER TABLE ws_tickets ADD COLUMN web_session_id INT REFERENCES web_sessions (id) ON DELETE CASCADE;
ALTER TABLE ws_tickets ADD COLUMN api_key_id INT REFERENCES api_keys (id) ON DELETE CASCADE;
CREATE INDEX ws_tickets_web_session_idx ON ws_tickets (web_session_id);
CREATE INDEX ws_tickets_api_key_idx ON ws_tickets (api_key_id);
