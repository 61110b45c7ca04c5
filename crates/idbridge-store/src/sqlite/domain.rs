//! Tenant domains' statements as SQLite spells them; the logic is `repo::domain`.

crate::repo::domain::statements! {
    // SQLite uses a partial index only when the query repeats its predicate word for
    // word, and the indexes on verified claims say `verified = 1` (migration 0011).
    verified: "verified = 1",
    // No row lock: the check's transaction began IMMEDIATE on the single writer, so
    // no other check (or verification of the domain) runs until it commits.
    lock: "",
}
