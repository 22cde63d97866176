-- Retention of the outbox and the delivery log (ARCHITECTURE.md, "Webhooks";
-- `webhook_retention_days`). The worker deletes, every hour, events dispatched and done with
-- (no delivery still pending) and attempts older than the retention; these indexes let it find
-- them by age, and let the deletion of an event reach its deliveries and their attempts
-- (ON DELETE CASCADE) without a scan per row.
CREATE INDEX event_outbox_occurred ON event_outbox (occurred_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_age ON webhook_attempts (attempted_at);
