-- Sign-in throttling: counters claimed atomically before a password is checked, instead of one
-- row per failure counted afterwards (concurrent attempts could all pass the count).
DROP TABLE login_failures;

-- Per account and client (device cookie and address): failures in the current window and the
-- earliest time of the next attempt (growing delays). `account_hash` and `address_hash` let the
-- server notice many accounts failing from one address.
CREATE TABLE login_client_throttle (
    key_hash TEXT PRIMARY KEY,
    account_hash TEXT NOT NULL,
    address_hash TEXT,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL
);
CREATE INDEX login_client_throttle_address ON login_client_throttle (address_hash, window_start);

-- Per account, from clients it has never signed in from: failures within the hour.
CREATE TABLE login_account_throttle (
    account_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);

-- Devices (a long-lived random cookie) an account has signed in from, hashed with the account.
CREATE TABLE login_devices (
    key_hash TEXT PRIMARY KEY,
    recognised_at INTEGER NOT NULL
);
