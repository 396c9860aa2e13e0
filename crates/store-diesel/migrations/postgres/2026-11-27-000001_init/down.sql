DROP TABLE users;
DROP TABLE idempotency_keys;
DROP TABLE messages;
DROP TABLE counters;
DROP TABLE participants;
DROP TABLE conversations;
DROP TABLE apps;
