//! TEMPORARY: replaced by h-accounts' console module at the merge.

pub mod policy;
