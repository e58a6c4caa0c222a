//! TEMPORARY stub until h-accounts' operators land (replaced by theirs at the merge).

/// What an operator may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Developer,
    Auditor,
}
