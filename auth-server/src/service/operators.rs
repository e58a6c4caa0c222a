//! TEMPORARY stub until h-accounts' operators land (replaced by theirs at the merge).

/// What an operator may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Developer,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Auditor => "auditor",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OperatorView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub created_at: String,
}
