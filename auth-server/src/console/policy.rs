//! Who may do what in the console: the one place the rule is written.
//!
//! - **admin**: everything.
//! - **developer**: only sandbox credentials (and webhook endpoints) they own (`owner_id` is theirs). Another
//!   developer's (or an ops-managed, or a live) credential does not exist for them: it is a 404,
//!   exactly like a missing one, and lists never show it. They create sandbox credentials only
//!   (a forged `environment=live` is 403 and writes nothing), on the default tier (choosing a
//!   tier is an admin's decision: a forged `tier` is 403), cannot enable (or change) an
//!   application an admin disabled, and the operators page and the audit trail are 403.
//! - **auditor**: reads every list and the audit trail; every write is 403.
//!
//! - **operators**: an admin changes every account but their own ([`change_operator`]: their own
//!   is changed on the account page; the operators page offers no action on it).
//!
//! Handlers ask here before they act: [`page`] for the page itself, [`create`] before a
//! create, [`view`] after reading a credential, [`change`] before changing one (the role is
//! checked before any lookup, so an auditor learns nothing from a write's answer),
//! [`change_operator`] before changing an account, and [`list_scope`] for what a list may
//! contain. Nothing else in the console decides access.

use shared::Environment;

use crate::service::operators::Role;

/// The console's pages (each a family of routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Applications,
    ApiKeys,
    /// The resource API's webhook endpoints: owned and scoped like credentials.
    Webhooks,
    Operators,
    Audit,
}

/// Why a request is refused; the handler renders it (404 or 403 page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The credential does not exist for this operator (as if missing).
    NotFound,
    /// The operator's role does not allow this.
    Forbidden,
    /// An admin's own account: changed on the account page, or by another admin.
    OwnAccount,
}

/// The signed-in operator, as the policy needs them.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub role: Role,
    pub operator_id: &'a str,
}

/// What the policy needs to know of a credential (application or API key).
#[derive(Debug, Clone, Copy)]
pub struct Credential<'a> {
    pub environment: Environment,
    pub owner_id: Option<&'a str>,
}

/// May `role` open `page` at all (read)?
pub fn page(role: Role, page: Page) -> Result<(), Denied> {
    let allowed = match (role, page) {
        (Role::Admin, _) => true,
        (Role::Developer, Page::Applications | Page::ApiKeys | Page::Webhooks) => true,
        (Role::Developer, Page::Operators | Page::Audit) => false,
        (Role::Auditor, Page::Applications | Page::ApiKeys | Page::Webhooks | Page::Audit) => true,
        (Role::Auditor, Page::Operators) => false,
    };
    allowed.then_some(()).ok_or(Denied::Forbidden)
}

/// May `role` write anything on `page`? Asked before any lookup.
pub fn write(role: Role, on: Page) -> Result<(), Denied> {
    page(role, on)?;
    match role {
        Role::Admin | Role::Developer => Ok(()),
        Role::Auditor => Err(Denied::Forbidden),
    }
}

/// May `who` see this credential?
pub fn view(who: Who<'_>, credential: Credential<'_>) -> Result<(), Denied> {
    match who.role {
        Role::Admin | Role::Auditor => Ok(()),
        Role::Developer => {
            let own = credential.owner_id == Some(who.operator_id);
            (own && credential.environment == Environment::Sandbox)
                .then_some(())
                .ok_or(Denied::NotFound)
        }
    }
}

/// May `who` change (rotate, revoke, disable, delete…) this credential? The role comes first:
/// an auditor is refused whether or not the credential exists.
pub fn change(who: Who<'_>, credential: Credential<'_>) -> Result<(), Denied> {
    if who.role == Role::Auditor {
        return Err(Denied::Forbidden);
    }
    view(who, credential)
}

/// May `role` create a credential in `environment`?
pub fn create(role: Role, environment: Environment) -> Result<(), Denied> {
    match (role, environment) {
        (Role::Admin, _) => Ok(()),
        (Role::Developer, Environment::Sandbox) => Ok(()),
        (Role::Developer, Environment::Live) => Err(Denied::Forbidden),
        (Role::Auditor, _) => Err(Denied::Forbidden),
    }
}

/// May `role` choose a credential's rate-limit tier (else it gets the default)?
pub fn choose_tier(role: Role) -> Result<(), Denied> {
    match role {
        Role::Admin => Ok(()),
        Role::Developer | Role::Auditor => Err(Denied::Forbidden),
    }
}

/// May `role` enable an application that is disabled (`by_admin`: an admin disabled it)?
pub fn enable(role: Role, by_admin: bool) -> Result<(), Denied> {
    match (role, by_admin) {
        (Role::Admin, _) | (Role::Developer, false) => Ok(()),
        (Role::Developer, true) | (Role::Auditor, _) => Err(Denied::Forbidden),
    }
}

/// May `who` change the operator `target_id` (role, disable, enable, reset TOTP)? Admins only,
/// and never their own account here: the last admin could otherwise lock everyone out in one
/// click, and a stolen session could remove its owner's second factor. (The last active admin
/// is also protected in the service, whoever asks.)
pub fn change_operator(who: Who<'_>, target_id: &str) -> Result<(), Denied> {
    write(who.role, Page::Operators)?;
    if target_id == who.operator_id {
        return Err(Denied::OwnAccount);
    }
    Ok(())
}

/// How a change made by `role` counts: an admin's, or the owning developer's.
pub fn changed_by(role: Role) -> crate::service::applications::ChangedBy {
    use crate::service::applications::ChangedBy;
    match role {
        Role::Admin => ChangedBy::Admin,
        Role::Developer | Role::Auditor => ChangedBy::Owner,
    }
}

/// The environments a create form offers `role` (what [`create`] allows).
pub fn creatable_environments(role: Role) -> &'static [Environment] {
    match role {
        Role::Admin => &[Environment::Sandbox, Environment::Live],
        Role::Developer => &[Environment::Sandbox],
        Role::Auditor => &[],
    }
}

/// What the credential lists may contain for `who`: `None` in a field leaves it open. A
/// developer's lists are their own sandbox credentials, whatever filter the page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListScope {
    pub owner_id: Option<String>,
    pub environment: Option<Environment>,
}

pub fn list_scope(who: Who<'_>) -> ListScope {
    match who.role {
        Role::Admin | Role::Auditor => ListScope {
            owner_id: None,
            environment: None,
        },
        Role::Developer => ListScope {
            owner_id: Some(who.operator_id.to_owned()),
            environment: Some(Environment::Sandbox),
        },
    }
}

/// The credential a new one will be owned by: a developer owns what they create; what an admin
/// creates is ops-managed (`None`), like what the admin API and the CLI create.
pub fn owner_of_new(who: Who<'_>) -> Option<String> {
    match who.role {
        Role::Developer => Some(who.operator_id.to_owned()),
        Role::Admin | Role::Auditor => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 3] = [Role::Admin, Role::Developer, Role::Auditor];
    const PAGES: [Page; 5] = [
        Page::Applications,
        Page::ApiKeys,
        Page::Webhooks,
        Page::Operators,
        Page::Audit,
    ];
    const ENVS: [Environment; 2] = [Environment::Sandbox, Environment::Live];
    const ME: &str = "op_me";

    fn who(role: Role) -> Who<'static> {
        Who {
            role,
            operator_id: ME,
        }
    }

    #[test]
    fn page_table() {
        use Denied::Forbidden;
        let expected = |role: Role, p: Page| match (role, p) {
            (Role::Admin, _) => Ok(()),
            (Role::Developer, Page::Applications | Page::ApiKeys | Page::Webhooks) => Ok(()),
            (Role::Developer, _) => Err(Forbidden),
            (Role::Auditor, Page::Operators) => Err(Forbidden),
            (Role::Auditor, _) => Ok(()),
        };
        for role in ROLES {
            for p in PAGES {
                assert_eq!(page(role, p), expected(role, p), "{role:?} on {p:?}");
            }
        }
    }

    #[test]
    fn write_table() {
        for p in PAGES {
            assert_eq!(write(Role::Admin, p), Ok(()), "admin writes {p:?}");
            assert_eq!(
                write(Role::Auditor, p),
                Err(Denied::Forbidden),
                "auditor {p:?}"
            );
            let dev = match p {
                Page::Applications | Page::ApiKeys | Page::Webhooks => Ok(()),
                Page::Operators | Page::Audit => Err(Denied::Forbidden),
            };
            assert_eq!(write(Role::Developer, p), dev, "developer writes {p:?}");
        }
    }

    #[test]
    fn view_and_change_table() {
        let owners: [Option<&str>; 3] = [None, Some(ME), Some("op_other")];
        for role in ROLES {
            for environment in ENVS {
                for owner_id in owners {
                    let c = Credential {
                        environment,
                        owner_id,
                    };
                    let own_sandbox = owner_id == Some(ME) && environment == Environment::Sandbox;
                    let (v, ch) = match role {
                        Role::Admin => (Ok(()), Ok(())),
                        Role::Auditor => (Ok(()), Err(Denied::Forbidden)),
                        Role::Developer if own_sandbox => (Ok(()), Ok(())),
                        Role::Developer => (Err(Denied::NotFound), Err(Denied::NotFound)),
                    };
                    let case = format!("{role:?} {environment:?} owner {owner_id:?}");
                    assert_eq!(view(who(role), c), v, "view: {case}");
                    assert_eq!(change(who(role), c), ch, "change: {case}");
                }
            }
        }
    }

    #[test]
    fn create_table_matches_the_offered_environments() {
        for role in ROLES {
            for environment in ENVS {
                let expected = match (role, environment) {
                    (Role::Admin, _) | (Role::Developer, Environment::Sandbox) => Ok(()),
                    _ => Err(Denied::Forbidden),
                };
                assert_eq!(
                    create(role, environment),
                    expected,
                    "{role:?} {environment:?}"
                );
                assert_eq!(
                    creatable_environments(role).contains(&environment),
                    expected.is_ok(),
                    "form offers what create allows: {role:?} {environment:?}"
                );
            }
        }
    }

    #[test]
    fn lists_of_a_developer_are_their_own_sandbox_credentials() {
        assert_eq!(
            list_scope(who(Role::Developer)),
            ListScope {
                owner_id: Some(ME.into()),
                environment: Some(Environment::Sandbox)
            }
        );
        for role in [Role::Admin, Role::Auditor] {
            assert_eq!(
                list_scope(who(role)),
                ListScope {
                    owner_id: None,
                    environment: None
                }
            );
        }
    }

    #[test]
    fn admins_change_other_operators_never_themselves() {
        assert_eq!(change_operator(who(Role::Admin), "op_other"), Ok(()));
        assert_eq!(
            change_operator(who(Role::Admin), ME),
            Err(Denied::OwnAccount)
        );
        for role in [Role::Developer, Role::Auditor] {
            assert_eq!(
                change_operator(who(role), "op_other"),
                Err(Denied::Forbidden)
            );
        }
    }

    #[test]
    fn only_developers_own_what_they_create() {
        assert_eq!(owner_of_new(who(Role::Developer)), Some(ME.into()));
        assert_eq!(owner_of_new(who(Role::Admin)), None);
        assert_eq!(owner_of_new(who(Role::Auditor)), None);
    }
}
