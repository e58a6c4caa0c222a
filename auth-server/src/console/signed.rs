//! [`SignedIn`]: an operator with a live session, as every console page sees them. Only data:
//! it is made by the extractor in [`super::extractors`], which checks the session, so that the
//! pages, the layout, the CSRF check and the error pages can name it without depending on how
//! it is made (no import circle among the console's modules).

use shared::Secret;

use crate::service::audit::AuditContext;
use crate::service::operators::{OperatorView, Role};

/// An operator with a live session, and what a page needs to act for them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub operator: OperatorView,
    /// Put in every form as the hidden field `csrf_token`; checked by [`super::csrf::check_csrf`].
    pub csrf_token: String,
    /// `AuditContext::operator(id, email, Some(source))`: pass it to every service write.
    pub audit: AuditContext,
    /// The session's cookie value: the key to the secrets it waits to be shown
    /// (`service::reveals`). Redacted in `Debug`; never rendered.
    pub session: Secret,
}

impl SignedIn {
    pub fn is(&self, role: Role) -> bool {
        self.operator.role == role
    }
}
