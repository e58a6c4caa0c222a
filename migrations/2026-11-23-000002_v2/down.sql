DROP TABLE alerts;
DROP TABLE transactions;
DROP TABLE subjects;
DROP TABLE watchlist_entries;
DROP TABLE sars;
DROP TABLE case_events;
DROP TABLE case_reference_counters;
DROP TABLE cases;
