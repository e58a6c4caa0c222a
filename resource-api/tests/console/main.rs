//! Browser tests: the pages people use (the API docs; the console, issue 11) in a real
//! headless Chromium, against the real services on port 0 and a fresh database.

#![allow(clippy::unwrap_used)]

mod browser;
mod docs;
mod flows;
mod forms;
mod layout;
mod stack;
