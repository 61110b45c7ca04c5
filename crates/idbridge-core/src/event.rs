//! The events of a tenant's feed: what happened ([`EventKind`]) and to what
//! ([`EventResource`]). The feed, the webhooks and their filters all speak these
//! two types; their spellings (`user.created`, `User`) are the wire format the app
//! sees and never change.

/// A closed set of values with one stored and wire spelling each.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The stored and wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// What happened. `user.*` and `group.*` come from directory writes (SCIM, and
    /// sign-ins that create or update a user), `sign_in.*` from every sign-in,
    /// `domain.*` from domain checks, `saml.*` from the metadata housekeeping.
    pub enum EventKind {
        UserCreated = "user.created",
        UserUpdated = "user.updated",
        UserDeactivated = "user.deactivated",
        UserReactivated = "user.reactivated",
        UserDeleted = "user.deleted",
        /// A user was created while the tenant's `invite_new_users` was on.
        UserInvited = "user.invited",
        GroupCreated = "group.created",
        GroupUpdated = "group.updated",
        GroupDeleted = "group.deleted",
        GroupMemberAdded = "group.member_added",
        GroupMemberRemoved = "group.member_removed",
        SignInSucceeded = "sign_in.succeeded",
        SignInFailed = "sign_in.failed",
        DomainVerified = "domain.verified",
        DomainUnverified = "domain.unverified",
        SamlCertificateExpiring = "saml.certificate_expiring",
        /// The tenant's IT admin finished the setup portal's steps and said so.
        SetupCompleted = "setup.completed",
    }
}

vocabulary! {
    /// What an event is about: its `resource_id` names one of these.
    pub enum EventResource {
        User = "User",
        Group = "Group",
        /// A sign-in whose user is not known (a refusal before the user was read).
        SignIn = "SignIn",
        Domain = "Domain",
        SamlConnection = "SamlConnection",
        /// A setup link (the IT admin's way into the setup portal).
        SetupLink = "SetupLink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_back_to_its_value() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(*kind));
        }
        for resource in EventResource::ALL {
            assert_eq!(EventResource::parse(resource.as_str()), Some(*resource));
        }
        assert_eq!(EventKind::parse("user.Created"), None);
        assert_eq!(EventResource::parse("user"), None);
    }

    #[test]
    fn spellings_are_the_wire_format() {
        assert_eq!(
            EventKind::GroupMemberAdded.to_string(),
            "group.member_added"
        );
        assert_eq!(
            serde_json::to_string(&EventKind::SignInFailed).expect("serialises"),
            "\"sign_in.failed\""
        );
    }
}
