//! The audit log's vocabulary: who made a change ([`ActorKind`]) and what it was
//! ([`AuditAction`]). Their spellings are the wire format of `GET /api/v1/audit-log`
//! and never change.

use crate::event::vocabulary;

vocabulary! {
    /// How the one who made a change was authenticated.
    pub enum ActorKind {
        /// The admin API, with an admin key (`id`: the key's id, or `bootstrap`).
        AdminKey = "admin_key",
        /// The console, signed in as an operator (`id`: the operator's id).
        Operator = "operator",
        /// The setup portal, through a tenant's setup link (`id`: the link's id).
        SetupLink = "setup_link",
        /// An operator command on the server (`id`: the OS user, when known).
        Cli = "cli",
    }
}

vocabulary! {
    /// What changed.
    pub enum AuditAction {
        TenantCreated = "tenant.created",
        TenantUpdated = "tenant.updated",
        TenantDeleted = "tenant.deleted",
        UserCreated = "user.created",
        UserUpdated = "user.updated",
        UserDeleted = "user.deleted",
        /// `PUT …/saml`: the tenant's first SAML connection set up or changed.
        SamlConfigured = "saml.configured",
        ConnectionCreated = "connection.created",
        ConnectionUpdated = "connection.updated",
        ConnectionDeleted = "connection.deleted",
        ScimTokenCreated = "scim_token.created",
        ScimTokenRevoked = "scim_token.revoked",
        DomainAdded = "domain.added",
        DomainRemoved = "domain.removed",
        SetupLinkCreated = "setup_link.created",
        SetupLinkRevoked = "setup_link.revoked",
        AppRolesUpdated = "app_roles.updated",
        RoleMappingsUpdated = "role_mappings.updated",
        ClientCreated = "client.created",
        ClientDeleted = "client.deleted",
        WebhookCreated = "webhook.created",
        WebhookUpdated = "webhook.updated",
        WebhookSecretRotated = "webhook.secret_rotated",
        WebhookDeleted = "webhook.deleted",
        AdminKeyCreated = "admin_key.created",
        AdminKeyRevoked = "admin_key.revoked",
        OperatorCreated = "operator.created",
        /// A new ID token signing key; the previous one stays published a while.
        SigningKeyRotated = "signing_key.rotated",
        /// A tenant's new SP key pair (request signing, assertion decryption).
        SpKeyRotated = "sp_key.rotated",
        /// A domain's TXT record checked on request (the housekeeping re-checks are
        /// not recorded: no one made them).
        DomainChecked = "domain.checked",
        /// Webhook deliveries resumed or rewound.
        WebhookReplayed = "webhook.replayed",
        /// The IT admin said the setup portal's steps are done.
        SetupCompleted = "setup.completed",
        /// The branding's settings (name, colour, contact, return URL) replaced.
        BrandingUpdated = "branding.updated",
        /// The branding's logo uploaded or replaced (its type, size and hash only).
        BrandingLogoUpdated = "branding.logo_updated",
        BrandingLogoRemoved = "branding.logo_removed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_back() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        for k in ActorKind::ALL {
            assert_eq!(ActorKind::parse(k.as_str()), Some(*k));
        }
    }
}
