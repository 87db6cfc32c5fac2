-- Indexes for the deletes that cascade: erasing a user reaches every one of
-- their notifications (the inbox index covers only those shown in the inbox),
-- and disabling or deleting an endpoint reaches its deliveries.
CREATE INDEX notifications_of_user ON notifications (user_id);
CREATE INDEX deliveries_of_endpoint ON deliveries (endpoint_id) WHERE endpoint_id IS NOT NULL;
