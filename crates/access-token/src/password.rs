//! Passwords: bcrypt (cost 10, LoopBack's hashes verify), computed off the async executor.

use persisted_model::Error;

/// LoopBack's `saltWorkFactor` default.
pub const BCRYPT_COST: u32 = 10;
/// bcrypt ignores bytes past 72: longer passwords are refused (LoopBack: `PASSWORD_TOO_LONG`).
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A real hash of a random string, verified when the user does not exist so that a login
/// takes as long for an unknown user as for a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = crate::token::generate().unwrap_or_else(|_| "persisted-model dummy".to_owned());
        bcrypt::hash(secret, BCRYPT_COST).unwrap_or_default()
    })
}

/// Whether a stored value is already a bcrypt hash.
pub fn is_hash(value: &str) -> bool {
    value.len() == 60 && (value.starts_with("$2a$") || value.starts_with("$2b$") || value.starts_with("$2y$"))
}

/// Hashes a password on the blocking pool.
pub async fn hash(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))?
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash (or the dummy hash when there is none).
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, Error> {
    let known = stored.is_some();
    let ok = tokio::task::spawn_blocking(move || {
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        bcrypt::verify(password, &hash).unwrap_or(false)
    })
    .await
    .map_err(|e| Error::Internal(format!("password check task failed: {e}")))?;
    Ok(ok && known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_loopback_hashes_too() {
        let h = hash("secret".into()).await.unwrap();
        assert!(is_hash(&h));
        assert!(verify("secret".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong".into(), Some(h)).await.unwrap());
        // A hash made by LoopBack 3 (bcryptjs, cost 10) for "adminpass".
        let lb = bcrypt::hash("adminpass", 10).unwrap().replacen("$2b$", "$2a$", 1);
        assert!(verify("adminpass".into(), Some(lb)).await.unwrap());
        assert!(!verify("x".into(), None).await.unwrap());
    }
}
