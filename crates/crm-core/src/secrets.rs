//! Password hashing and opaque bearer secrets.
//!
//! Passwords are hashed with argon2id (memory-hard, salted). Session ids and
//! API tokens are 256-bit random secrets; since they cannot be guessed, a plain
//! SHA-256 of the secret is what is stored and looked up.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::CoreError;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`verify_password`] on the blocking thread pool, on at most half the CPUs
/// at a time: Argon2 takes tens of milliseconds of CPU on purpose, and a flood of
/// login attempts run on the async workers would stall every other request.
/// Attempts past the limit wait their turn.
pub async fn verify_password_off_thread(password: &str, hash: &str) -> bool {
    let Ok(_permit) = argon2_limit().acquire().await else {
        return false;
    };
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// [`hash_password`] on the blocking thread pool, behind the same limit as
/// [`verify_password_off_thread`].
pub async fn hash_password_off_thread(password: &str) -> Result<String, CoreError> {
    let _permit = argon2_limit()
        .acquire()
        .await
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))?
}

/// Argon2 runs on at most half the CPUs at a time (at least one): the other
/// half keeps serving.
fn argon2_limit() -> &'static tokio::sync::Semaphore {
    static LIMIT: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new((cpus / 2).max(1))
    })
}

/// A hash to verify against when the user does not exist, so that a login for
/// an unknown email costs the same time as one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-0000").unwrap_or_default())
}

/// A new random secret with a readable prefix, e.g. `crm_tok_…`.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn secrets_are_unique_and_long() {
        let a = new_secret("crm_tok_");
        let b = new_secret("crm_tok_");
        assert_ne!(a, b);
        assert!(a.starts_with("crm_tok_") && a.len() >= 8 + 43);
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
