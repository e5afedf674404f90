//! The credentials vault: AEAD encryption of Meta tokens at rest.
//!
//! Every credential row is sealed with XChaCha20-Poly1305 under one master
//! key of a [`Keyring`]; the row records that key's id, so keys can rotate
//! (`crm keys rotate` re-encrypts every row under the current key). The
//! associated data binds the ciphertext to its tenant, its kind and its
//! reference id: a ciphertext copied into another tenant's row (or from a
//! Page token into the user-token slot) fails to decrypt.
//!
//! There is no plaintext fallback: without a key nothing can be stored or
//! read. Master keys come from configuration (`CRM_MASTER_KEY`,
//! `CRM_MASTER_KEYS`); in development a missing key is generated into the
//! data directory (see [`load_or_create_dev_keyring`]).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of an XChaCha20 nonce in bytes.
pub const NONCE_LEN: usize = 24;
/// File, inside the data directory, holding generated development keys.
pub const DEV_KEY_FILE: &str = "master.keys";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("master key #{index} is not valid base64: {reason}")]
    KeyEncoding { index: usize, reason: String },
    #[error("master key #{index} must be {KEY_LEN} bytes, got {len}")]
    KeyLength { index: usize, len: usize },
    #[error("no master key configured")]
    NoKey,
    #[error("this credential was encrypted with key {0}, which is not in the keyring")]
    UnknownKey(String),
    #[error("the credential could not be decrypted (wrong key or tampered data)")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("cannot use the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
}

/// One master key and its id (a fingerprint, so ids never collide by mistake).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let mut h = Sha256::new();
        h.update(b"crm-ventas master key id v1\0");
        h.update(bytes);
        let id = format!("k{}", &hex::encode(h.finalize())[..16]);
        Self {
            id,
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A sealed secret as stored in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// The current key (used to encrypt) plus older keys (still accepted to decrypt).
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

/// Generates a new random master key, base64-encoded (for `crm keys generate`).
pub fn generate_key() -> String {
    let mut k = [0u8; KEY_LEN];
    OsRng.fill_bytes(&mut k);
    STANDARD.encode(k)
}

fn decode_key(index: usize, s: &str) -> Result<MasterKey, VaultError> {
    let raw = STANDARD
        .decode(s.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()))
        .map_err(|e| VaultError::KeyEncoding {
            index,
            reason: e.to_string(),
        })?;
    let bytes: [u8; KEY_LEN] = raw
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::KeyLength {
            index,
            len: raw.len(),
        })?;
    Ok(MasterKey::from_bytes(&bytes))
}

/// Associated data binding a credential to its tenant, kind and reference.
pub fn aad(tenant_id: Uuid, kind: &str, ref_id: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(64 + kind.len() + ref_id.len());
    v.extend_from_slice(b"crm-ventas/credential/v1\0");
    v.extend_from_slice(tenant_id.as_bytes());
    v.push(0);
    v.extend_from_slice(kind.as_bytes());
    v.push(0);
    v.extend_from_slice(ref_id.as_bytes());
    v
}

impl Keyring {
    /// Builds a keyring from base64 keys; the first is the current key.
    /// Duplicates are dropped.
    pub fn from_base64<S: AsRef<str>>(keys: &[S]) -> Result<Self, VaultError> {
        let mut out: Vec<MasterKey> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let k = k.as_ref().trim();
            if k.is_empty() {
                continue;
            }
            let key = decode_key(i + 1, k)?;
            if !out.iter().any(|x| x.id == key.id) {
                out.push(key);
            }
        }
        if out.is_empty() {
            return Err(VaultError::NoKey);
        }
        Ok(Self { keys: out })
    }

    pub fn current(&self) -> &MasterKey {
        // `from_base64` never builds an empty keyring.
        &self.keys[0]
    }

    pub fn current_id(&self) -> &str {
        self.current().id()
    }

    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    fn key(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Encrypts under the current key with a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, VaultError> {
        let key = self.current();
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts a sealed value with the key it names.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.nonce.len() != NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        key.cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Decrypt)
    }

    /// Decrypts to a UTF-8 string.
    pub fn open_string(&self, sealed: &Sealed, aad: &[u8]) -> Result<String, VaultError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|_| VaultError::Decrypt)
    }
}

/// Where the development keyring lives.
pub fn dev_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DEV_KEY_FILE)
}

/// Reads the development keyring file (one base64 key per line, current first).
pub fn read_dev_keyring(data_dir: &Path) -> Result<Option<Keyring>, VaultError> {
    let path = dev_key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let keys: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            Keyring::from_base64(&keys).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(VaultError::KeyFile {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Writes the development keyring file (owner-only permissions on Unix).
pub fn write_dev_keyring(data_dir: &Path, keys_b64: &[String]) -> Result<(), VaultError> {
    let path = dev_key_path(data_dir);
    let err = |source| VaultError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let mut body = String::from(
        "# CRM Ventas development master keys (first line = current key).\n\
         # Generated because no CRM_MASTER_KEY was configured. Do not use in production.\n",
    );
    for k in keys_b64 {
        body.push_str(k);
        body.push('\n');
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(err)?;
        f.write_all(body.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, &path).map_err(err)
}

/// Reads the base64 keys of the development keyring file.
pub fn read_dev_keys_b64(data_dir: &Path) -> Result<Vec<String>, VaultError> {
    let path = dev_key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(VaultError::KeyFile {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The development keyring: read from the data directory, or generated there
/// (with a loud warning) when absent. Returns the keyring and whether a key
/// was generated.
pub fn load_or_create_dev_keyring(data_dir: &Path) -> Result<(Keyring, bool), VaultError> {
    if let Some(k) = read_dev_keyring(data_dir)? {
        return Ok((k, false));
    }
    let key = generate_key();
    write_dev_keyring(data_dir, std::slice::from_ref(&key))?;
    tracing::warn!(
        path = %dev_key_path(data_dir).display(),
        "NO MASTER KEY CONFIGURED: generated a development master key in the data directory. \
         Meta credentials are encrypted with it; losing the file loses them. \
         Set CRM_MASTER_KEY for production (CRM_PRODUCTION=true refuses to start without it)."
    );
    let ring = Keyring::from_base64(&[key])?;
    Ok((ring, true))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_bind_aad() {
        let ring = Keyring::from_base64(&[generate_key()]).unwrap();
        let t1 = Uuid::now_v7();
        let t2 = Uuid::now_v7();
        let sealed = ring
            .seal(&aad(t1, "user_token", ""), b"EAAsecret-token-value")
            .unwrap();
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert!(
            !sealed.ciphertext.windows(6).any(|w| w == b"EAAsec"),
            "ciphertext leaks plaintext"
        );
        assert_eq!(
            ring.open_string(&sealed, &aad(t1, "user_token", ""))
                .unwrap(),
            "EAAsecret-token-value"
        );
        // Another tenant, another kind or another ref: refused.
        assert!(matches!(
            ring.open(&sealed, &aad(t2, "user_token", "")),
            Err(VaultError::Decrypt)
        ));
        assert!(ring.open(&sealed, &aad(t1, "page_token", "")).is_err());
        assert!(ring.open(&sealed, &aad(t1, "user_token", "1")).is_err());
    }

    #[test]
    fn keyring_rotation_reads_old_rows() {
        let old = generate_key();
        let new = generate_key();
        let ring_old = Keyring::from_base64(std::slice::from_ref(&old)).unwrap();
        let ring_both = Keyring::from_base64(&[new.clone(), old]).unwrap();
        let ring_new = Keyring::from_base64(&[new]).unwrap();
        let a = aad(Uuid::nil(), "user_token", "");
        let sealed = ring_old.seal(&a, b"tok").unwrap();
        assert_eq!(ring_both.open(&sealed, &a).unwrap(), b"tok");
        assert!(matches!(
            ring_new.open(&sealed, &a),
            Err(VaultError::UnknownKey(_))
        ));
        let resealed = ring_both.seal(&a, b"tok").unwrap();
        assert_eq!(resealed.key_id, ring_new.current_id());
        assert_eq!(ring_new.open(&resealed, &a).unwrap(), b"tok");
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(matches!(
            Keyring::from_base64(&["not base64!"]),
            Err(VaultError::KeyEncoding { .. })
        ));
        assert!(matches!(
            Keyring::from_base64(&["c2hvcnQ="]),
            Err(VaultError::KeyLength { len: 5, .. })
        ));
        assert!(matches!(
            Keyring::from_base64::<&str>(&[]),
            Err(VaultError::NoKey)
        ));
    }

    #[test]
    fn dev_keyring_is_generated_once() {
        let dir = std::env::temp_dir().join(format!("crm-vault-{}", Uuid::new_v4()));
        let (a, created) = load_or_create_dev_keyring(&dir).unwrap();
        assert!(created);
        let (b, created) = load_or_create_dev_keyring(&dir).unwrap();
        assert!(!created);
        assert_eq!(a.current_id(), b.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dev_key_path(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
