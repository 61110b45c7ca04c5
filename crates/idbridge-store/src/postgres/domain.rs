//! Tenant domains' statements as PostgreSQL spells them; the logic is `repo::domain`.

crate::repo::domain::statements! {
    // A boolean column, as the partial indexes on verified claims test it.
    verified: "verified",
    // FOR UPDATE: two checks of one claim (an admin and the re-check) apply in turn.
    lock: " FOR UPDATE",
}
